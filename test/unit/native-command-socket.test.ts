/**
 * The probe of liblxc's command socket (lxc-command-socket.ts): exact-length
 * abstract names, refused once closed. Node pads abstract names to the whole
 * sun_path: a Node listener is reachable only under a 107-byte name.
 */
import t from 'tap';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { binding } from '../../lib/native/addon';
import { commandSocketClosed, commandSocketName } from '../../lib/native/lxc-command-socket';

const listen = (name: string): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer((c) => c.destroy());
    srv.once('error', reject);
    srv.listen({ path: `\0${name}` }, () => resolve(srv));
  });
const close = (srv: net.Server): Promise<void> => new Promise((r) => srv.close(() => r()));

/** lxcpath + "/" + name + "/command" of exactly 107 bytes. */
function fullLengthPath(): { lxcpath: string; name: string } {
  const name = `probe${process.pid}`;
  const rest = `/${name}/command`.length;
  return { lxcpath: `/tmp/${'x'.repeat(107 - rest - 5)}`, name };
}

t.test('names: liblxc\'s layout; null past 106 bytes, where liblxc hashes', async (t) => {
  t.equal(commandSocketName('/var/lib/incus/containers', 'c1'), '/var/lib/incus/containers/c1/command');
  t.equal(commandSocketName(`/${'a'.repeat(90)}`, 'c1'), `/${'a'.repeat(90)}/c1/command`);
  t.equal(commandSocketName(`/${'a'.repeat(100)}`, 'c1'), null);
});

t.test('abstractListening: true while listened on, false once closed; bad names refused', async (t) => {
  const { lxcpath, name } = fullLengthPath();
  const sock = `${lxcpath}/${name}/command`;
  t.equal(Buffer.byteLength(sock), 107);
  t.equal(binding().abstractListening(sock), false);
  const srv = await listen(sock);
  t.equal(binding().abstractListening(sock), true);
  // A one byte shorter name is another socket.
  t.equal(binding().abstractListening(sock.slice(0, -1)), false);
  await close(srv);
  t.equal(binding().abstractListening(sock), false);
  t.throws(() => binding().abstractListening(''), /1 to 107 bytes/);
  t.throws(() => binding().abstractListening('x'.repeat(108)), /1 to 107 bytes/);
  t.throws(() => binding().abstractListening('a\0b'), /1 to 107 bytes/);
});

/**
 * A listener on the exact abstract name (as liblxc binds it), in a python3
 * child: Node pads abstract names. Closing its stdin closes the socket.
 */
async function exactListener(name: string): Promise<ChildProcess> {
  const py = 'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(b"\\0"+sys.argv[1].encode())\ns.listen(64)\nprint("ready",flush=True)\nsys.stdin.read()\n';
  const child = spawn('python3', ['-c', py, name], { stdio: ['pipe', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return child;
}
const stopListener = async (c: ChildProcess): Promise<void> => {
  c.stdin!.end();
  if (c.exitCode === null) await once(c, 'exit');
};

t.test('commandSocketClosed: resolves after the close, not before; an abort stops it', async (t) => {
  const lxcpath = `incus-probe-test-${process.pid}`;
  const child = await exactListener(`${lxcpath}/c1/command`);
  t.teardown(() => child.kill());
  t.equal(binding().abstractListening(`${lxcpath}/c1/command`), true);
  let done = false;
  const p = commandSocketClosed(lxcpath, 'c1', new AbortController().signal).then(() => {
    done = true;
  });
  await new Promise((r) => setTimeout(r, 30));
  t.equal(done, false, 'still listened on');
  await stopListener(child);
  await p;
  t.equal(done, true);

  const child2 = await exactListener(`${lxcpath}/c1/command`);
  t.teardown(() => child2.kill());
  const ac = new AbortController();
  let resolved = false;
  void commandSocketClosed(lxcpath, 'c1', ac.signal).then(() => {
    resolved = true;
  });
  ac.abort();
  await stopListener(child2);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(resolved, false, 'aborted: no further probe');
});
