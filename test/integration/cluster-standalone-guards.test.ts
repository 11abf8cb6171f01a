/**
 * The member-to-member routes on a standalone host (issue 20): each refuses
 * with 400 "This server is not clustered" before it touches anything; in
 * particular the move-out a restore asks for, which stops the instance
 * first on a cluster, leaves a running container running here.
 */
import t from 'tap';
import { withDaemon } from './lib/daemon';
import { api } from './lib/socket-api';

t.test('cluster-internal routes refuse on a standalone host and change nothing', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'c1'])).code, 0);
  const fp = (await d.client.getImageAlias('busybox')).target;
  const refused = { status: 400, body: { error: 'This server is not clustered' } };
  t.match(await api(d, 'POST', '/internal/cluster/instances/move-out', { name: 'c1', target: 'none' }), refused, 'move-out');
  t.match(await api(d, 'POST', '/internal/cluster/instances/move-in', { name: 'c1' }), refused, 'move-in');
  t.match(await api(d, 'DELETE', `/internal/cluster/images/${fp}`), refused, 'image files of another member');
  t.match(await api(d, 'GET', '/1.0/cluster/members/none/state'), refused, 'member state');
  t.match(await api(d, 'POST', '/1.0/cluster/members/none/state', { action: 'evacuate' }), refused, 'evacuation');
  t.equal((await d.client.getInstance('c1')).status, 'Running', 'c1 still runs');
  t.equal((await d.cli(['image', 'info', 'busybox'])).code, 0, 'the image is still there');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});
