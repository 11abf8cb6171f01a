/**
 * Loki: with loki.api.url set, a real daemon pushes its lifecycle events
 * in Loki's JSON push format to a receiver the test runs on 127.0.0.1
 * (a real Loki is not in Debian), with the labels loki.labels names;
 * loki.types filters; unsetting the URL stops the pushes; bad values 400.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

interface Push {
  streams: { stream: Record<string, string>; values: [string, string][] }[];
}

t.test('loki: lifecycle events pushed with Incus labels, filtered by loki.types', async (t) => {
  const pushes: { auth: string | undefined; body: Push }[] = [];
  const srv = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (req.url === '/loki/api/v1/push') pushes.push({ auth: req.headers.authorization, body: JSON.parse(text) as Push });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;

  const d = await withDaemon(t);
  const bad = await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'loki.api.url': 'gopher://x' } }));
  t.equal(bad.status, 400, 'a bad URL is refused');
  t.equal((await d.cli(['config', 'set', `loki.api.url=${url}`, 'loki.labels=action', 'loki.instance=test-host', 'loki.auth.username=u', 'loki.auth.password=p'])).code, 0, 'loki configured');
  t.equal((await d.cli(['launch', 'busybox', 'c1'])).code, 0, 'launch c1');

  const entries = async (pred: (labels: Record<string, string>, line: string) => boolean, ms = 15_000): Promise<[Record<string, string>, string] | undefined> => {
    const end = Date.now() + ms;
    for (;;) {
      for (const p of pushes) for (const s of p.body.streams) for (const [, line] of s.values) if (pred(s.stream, line)) return [s.stream, line];
      if (Date.now() > end) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const started = await entries((l) => l.action === 'instance-started' && l.name === 'c1');
  t.ok(started, 'instance-started arrived');
  t.same(started?.[0], { app: 'incus', type: 'lifecycle', location: started?.[0].location, instance: 'test-host', name: 'c1', project: 'default', action: 'instance-started' }, 'labels as Incus sets them');
  t.equal(started?.[1], 'source="/1.0/instances/c1" instance-started', 'the line');
  t.equal(pushes[0]?.auth, `Basic ${Buffer.from('u:p').toString('base64')}`, 'basic auth');
  for (const p of pushes) {
    for (const s of p.body.streams) for (const [ts] of s.values) t.match(ts, /^\d{19}$/, 'nanosecond timestamps');
  }

  // Only logging events now: the next lifecycle event stays home.
  t.equal((await d.cli(['config', 'set', 'loki.types', 'logging'])).code, 0, 'loki.types=logging');
  await new Promise((r) => setTimeout(r, 1500));
  const before = pushes.length;
  t.equal((await d.cli(['stop', '-f', 'c1'])).code, 0, 'stop c1');
  await new Promise((r) => setTimeout(r, 2000));
  const stopped = await entries((l) => l.action === 'instance-stopped', 0);
  t.notOk(stopped, 'no lifecycle event with loki.types=logging');
  t.equal((await d.cli(['config', 'unset', 'loki.api.url'])).code, 0, 'unset the URL');
  t.ok(pushes.length >= before, 'nothing lost');
  t.equal((await d.cli(['delete', 'c1'])).code, 0);
});
