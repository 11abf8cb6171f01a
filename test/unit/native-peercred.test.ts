/** SO_PEERCRED through the addon (peercred.ts): the connecting process's pid, uid and gid. */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binding } from '../../lib/native/addon';
import { peerCredentials } from '../../lib/native/peercred';

t.test('the accepted socket names this process; a closed one gives null; bad fds refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peercred-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'sock');
  const accepted = new Promise<net.Socket>((resolve) => {
    const srv = net.createServer((c) => resolve(c));
    srv.listen(path);
    t.teardown(() => srv.close());
  });
  const client = net.connect(path);
  const conn = await accepted;
  const cred = peerCredentials(conn);
  t.same(cred, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  client.destroy();
  conn.destroy();
  t.equal(peerCredentials(conn), null);
  t.throws(() => binding().peerCredentials(-1), TypeError);
  t.throws(() => binding().peerCredentials(1.5), TypeError);
});
