/**
 * Config input bounds against a real daemon and container: environment.*
 * names that would break exec and start are refused; an exec that fails
 * (an instance already holding such a key) reports the real error, not
 * "Operation not found"; linux.kernel_modules, limits.cpu and server keys
 * are validated; JSON bodies are bounded; `restore` takes "SNAP" and
 * "INSTANCE/SNAP".
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { globalDbPath } from '../../lib/server/db/location';

/** A JSON request through the daemon's socket; the reply's envelope comes back parsed. */
function request(d: TestDaemon, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ socketPath: d.socket, method, path, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Sends a large body on a raw socket and reads the status the daemon answers (it may stop reading early). */
function statusOfLargeRequest(d: TestDaemon, method: string, path: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const sock = net.connect(d.socket);
    let text = '';
    sock.on('data', (b: Buffer) => (text += b.toString()));
    // A refused body ends with the daemon closing the connection (EPIPE/ECONNRESET on our side).
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
    sock.write(`${method} ${path} HTTP/1.1\r\nHost: incus\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    // Fastify answers from Content-Length alone: let that answer arrive before the body races it.
    setTimeout(() => sock.end(body), 300);
  });
}

/** Waits for an operation's end; its final state. */
async function waitOp(d: TestDaemon, json: Record<string, unknown>): Promise<Record<string, unknown>> {
  const id = (json.metadata as { id: string }).id;
  const r = await request(d, 'GET', `/1.0/operations/${id}/wait?timeout=60`);
  return r.json.metadata as Record<string, unknown>;
}

t.test('config hardening', async (t) => {
  const d = await withDaemon(t);
  const launch = await d.cli(['launch', 'busybox', 'c1']);
  t.equal(launch.code, 0, launch.stderr);

  t.test('environment.* names that setenv refuses are a 400', async (t) => {
    const empty = await d.cli(['config', 'set', 'c1', 'environment.=x']);
    t.not(empty.code, 0);
    t.match(empty.stderr, /environment\.": Environment variable name cannot be empty/);
    const eq = await request(d, 'PATCH', '/1.0/instances/c1', { config: { 'environment.A=B': 'x' } });
    t.equal(eq.status, 400);
    t.match(eq.json.error, /cannot contain "="/);
    const nl = await request(d, 'PATCH', '/1.0/instances/c1', { config: { 'environment.A': 'x\ny' } });
    t.equal(nl.status, 400);
    const prof = await request(d, 'PATCH', '/1.0/profiles/default', { config: { 'environment.': 'x' } });
    t.equal(prof.status, 400, 'profiles too');
    const fine = await d.cli(['config', 'set', 'c1', 'environment.GOOD=yes']);
    t.equal(fine.code, 0, fine.stderr);
    const env = await d.cli(['exec', 'c1', '--', 'env']);
    t.equal(env.code, 0, env.stderr);
    t.match(env.stdout, /^GOOD=yes$/m);
    const post = await request(d, 'POST', '/1.0/instances/c1/exec', { command: ['true'], environment: { 'A=B': 'x' } });
    t.equal(post.status, 400, 'an exec request with a bad name is refused before any operation');
    t.match(post.json.error, /Invalid environment variable "A=B"/);
  });

  t.test('an exec that fails says why (not "Operation not found")', async (t) => {
    // An instance that already holds a bad key (written before validation existed).
    await d.signal('SIGTERM');
    const db = globalDbPath(d.dir);
    const upd = spawnSync('sqlite3', [db, `UPDATE instances SET config = json_set(config, '$."environment."', 'x') WHERE name = 'c1'`], { encoding: 'utf8' });
    t.equal(upd.status, 0, upd.stderr);
    await d.start();
    const r = await d.cli(['exec', 'c1', '--', 'true']);
    t.equal(r.code, 1);
    t.notMatch(r.stderr, /Operation not found/);
    t.match(r.stderr, /invalid environment variable ""/);
    const unset = await d.cli(['config', 'unset', 'c1', 'environment.']);
    t.equal(unset.code, 0, unset.stderr);
    t.equal((await d.cli(['exec', 'c1', '--', 'true'])).code, 0, 'exec works again once the key is gone');
  });

  t.test('linux.kernel_modules and limits.cpu are validated', async (t) => {
    const mods = await request(d, 'PATCH', '/1.0/instances/c1', { config: { 'linux.kernel_modules': '../../x' } });
    t.equal(mods.status, 400);
    t.match(mods.json.error, /Invalid kernel module name "\.\.\/\.\.\/x"/);
    t.equal((await request(d, 'PATCH', '/1.0/instances/c1', { config: { 'linux.kernel_modules': 'overlay' } })).status, 200);
    const cpu = await request(d, 'PATCH', '/1.0/instances/c1', { config: { 'limits.cpu': '1000' } });
    t.equal(cpu.status, 400);
    t.match(cpu.json.error, /CPU count 1000 is more than this host can ever have/);
    const range = await request(d, 'PATCH', '/1.0/instances/c1', { config: { 'limits.cpu': '0-4000000000' } });
    t.equal(range.status, 400, 'a huge range is refused (and answered at once)');
    t.equal((await request(d, 'PATCH', '/1.0/instances/c1', { config: { 'limits.cpu': '1' } })).status, 200);
  });

  t.test('server config values are validated', async (t) => {
    const bad = await request(d, 'PATCH', '/1.0', { config: { 'core.https_address': 'not-an-address:xx' } });
    t.equal(bad.status, 400);
    t.match(bad.json.error, /cannot set 'core\.https_address' to 'not-an-address:xx'/);
    t.equal((await request(d, 'PATCH', '/1.0', { config: { 'core.shutdown_timeout': 'soon' } })).status, 400);
    const ok = await request(d, 'PATCH', '/1.0', { config: { 'core.https_address': '127.0.0.1:8443' } });
    t.equal(ok.status, 200, JSON.stringify(ok.json));
    t.equal((await request(d, 'PATCH', '/1.0', { config: { 'core.https_address': '' } })).status, 200);
  });

  t.test('JSON bodies are bounded', async (t) => {
    const rssBefore = Number(/VmRSS:\s+(\d+)/.exec(spawnSync('cat', [`/proc/${d.pid}/status`], { encoding: 'utf8' }).stdout)?.[1]);
    const big = await statusOfLargeRequest(d, 'PATCH', '/1.0/instances/c1', JSON.stringify({ description: 'x'.repeat(8 * 1024 * 1024) }));
    t.equal(big, 413, 'an 8 MiB description is refused');
    const keys: Record<string, string> = {};
    for (let i = 0; i < 50_000; i++) keys[`user.key${i}`] = 'value-value';
    const many = await statusOfLargeRequest(d, 'PATCH', '/1.0/instances/c1', JSON.stringify({ config: keys }));
    t.equal(many, 413, '50,000 config keys are refused');
    const rssAfter = Number(/VmRSS:\s+(\d+)/.exec(spawnSync('cat', [`/proc/${d.pid}/status`], { encoding: 'utf8' }).stdout)?.[1]);
    t.ok(rssAfter - rssBefore < 100 * 1024, `RSS grew ${rssAfter - rssBefore} KiB`);
    const inst = await request(d, 'GET', '/1.0/instances/c1');
    t.equal((inst.json.metadata as { description: string }).description, '', 'nothing was stored');
  });

  t.test('restore takes "SNAP" and "INSTANCE/SNAP"', async (t) => {
    const snap = await d.cli(['snapshot', 'create', 'c1', 's1']);
    t.equal(snap.code, 0, snap.stderr);
    for (const restore of ['s1', 'c1/s1']) {
      const r = await request(d, 'PUT', '/1.0/instances/c1', { restore });
      t.equal(r.status, 202, `${restore}: ${JSON.stringify(r.json)}`);
      const op = await waitOp(d, r.json);
      t.equal(op.status, 'Success', `${restore}: ${String(op.err)}`);
    }
    const other = await request(d, 'PUT', '/1.0/instances/c1', { restore: 'c2/s1' });
    t.equal(other.status, 404, 'a snapshot of another instance is not found');
  });
});
