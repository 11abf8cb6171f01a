/**
 * A real three-member dqlite cluster, each member in a child process of its
 * own (test/integration/lib/dqlite-member.ts) listening on 127.0.0.1 with
 * mutual TLS and the cluster certificate: bootstrap, add and promote
 * members, every parameter type, transactions, kill -9 of the leader and
 * failover, the killed member's restart and catch-up (read from its own
 * copy through DUMP), leadership transfer. No mocks.
 */
import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ensureServerKeypair } from '../../lib/server/auth/server-cert';
import { DqliteClient, DqliteError, rowObjects, tlsDial, type DqliteDatabase } from '../../lib/server/db/dqlite';

const memberJs = join(__dirname, 'lib', 'dqlite-member.js');

interface Member {
  id: number;
  child: ChildProcess;
  address: string;
  port: number;
}

const root = mkdtempSync(join(tmpdir(), 'dqlite-cluster-'));
const members = new Map<number, Member>();

function killMember(m: Member): Promise<void> {
  return new Promise((resolve) => {
    if (m.child.exitCode !== null || m.child.signalCode !== null) return resolve();
    m.child.once('exit', () => resolve());
    process.kill(m.child.pid as number, 'SIGKILL');
  });
}

t.teardown(async () => {
  for (const m of members.values()) await killMember(m);
  rmSync(root, { recursive: true, force: true });
});

async function startMember(id: number, certDir: string, port = 0): Promise<Member> {
  const dataDir = join(root, `member${id}`);
  mkdirSync(dataDir, { recursive: true });
  const args = { id, port, dataDir, certFile: join(certDir, 'server.crt'), keyFile: join(certDir, 'server.key') };
  const child = fork(memberJs, [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`member ${id} did not start within 30 s`)), 30_000);
    child.once('exit', (code, sig) => reject(new Error(`member ${id} exited (${code ?? sig}) before it was ready`)));
    child.on('message', (msg: { ready?: boolean; address?: string }) => {
      if (msg.ready && msg.address) {
        clearTimeout(timer);
        resolve(msg.address);
      }
    });
  });
  const m = { id, child, address, port: Number(address.split(':')[1]) };
  members.set(id, m);
  return m;
}

/** Retries op while the cluster settles (an election after a kill). */
async function eventually<T>(what: string, timeoutMs: number, op: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Reads the rows of table `things` from member m's own copy of the database (DUMP, then SQLite). */
async function followerCount(client: DqliteClient, m: Member): Promise<number> {
  const files = await client.dump(m.address, 'incus.db');
  const dir = mkdtempSync(join(root, 'dump-'));
  try {
    for (const f of files) writeFileSync(join(dir, f.name), f.data);
    const db = new Database(join(dir, 'incus.db'));
    try {
      return (db.prepare('SELECT count(*) AS c FROM things').get() as { c: number }).c;
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('three members over TLS: membership, SQL, failover, catch-up', async (t) => {
  const certDir = join(root, 'cert');
  mkdirSync(certDir, { recursive: true });
  const cluster = await ensureServerKeypair(certDir);
  const dial = tlsDial(cluster);

  const m1 = await startMember(1, certDir);
  const m2 = await startMember(2, certDir);
  const m3 = await startMember(3, certDir);
  const client = new DqliteClient({ addresses: [m1.address], dial, leaderTimeoutMs: 30_000 });
  t.teardown(() => client.close());

  t.same(await client.cluster(), [{ id: 1, address: m1.address, role: 'voter' }], 'member 1 bootstrapped alone');
  for (const m of [m2, m3]) {
    await client.add(m.id, m.address);
    await client.assign(m.id, 'voter');
  }
  const nodes = await client.cluster();
  t.same(nodes.map((n) => [n.id, n.role]).sort(), [[1, 'voter'], [2, 'voter'], [3, 'voter']], 'three voters');
  t.same(await client.describe(m2.address), { failureDomain: 2, weight: 0 }, 'describe reaches member 2 directly');

  const db: DqliteDatabase = await client.open('incus.db');
  await db.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n TEXT, flag INTEGER)');
  const blob = Buffer.from([0, 1, 2, 254, 255, 0, 7, 8, 9]);
  const r = await db.exec('INSERT INTO things (i, f, s, b, n, flag) VALUES (?, ?, ?, ?, ?, ?)', [-42, 3.25, 'héllo wörld', blob, null, true]);
  t.equal(r.lastInsertId, 1);
  t.equal(r.rowsAffected, 1);
  await db.exec('INSERT INTO things (i, f, s, b, n, flag) VALUES (?, ?, ?, ?, ?, ?)', [2n ** 62n, -0.5, '', Buffer.alloc(0), 'x', false]);
  const rows = rowObjects(await db.query('SELECT * FROM things WHERE id >= ? ORDER BY id', [1]));
  t.same(rows, [
    { id: 1, i: -42, f: 3.25, s: 'héllo wörld', b: blob, n: null, flag: 1 },
    { id: 2, i: 2n ** 62n, f: -0.5, s: '', b: Buffer.alloc(0), n: 'x', flag: 0 },
  ], 'every parameter type round-trips');

  const stmt = await db.prepare('INSERT INTO things (i, s) VALUES (?, ?)');
  for (let i = 0; i < 300; i++) await stmt.exec([i, 'row '.repeat(20)]);
  await stmt.finalize();
  const many = await db.query('SELECT id, s FROM things');
  t.equal(many.rows.length, 302, 'rows spanning several ROWS batches are all read');

  await t.rejects(
    db.transaction(async (tx) => {
      await tx.exec('INSERT INTO things (i) VALUES (?)', [-1]);
      t.equal((await tx.query('SELECT count(*) FROM things WHERE i = -1')).rows[0][0], 1, 'visible inside the transaction');
      throw new Error('roll me back');
    }),
    { message: 'roll me back' },
  );
  t.equal((await db.query('SELECT count(*) FROM things WHERE i = -1')).rows[0][0], 0, 'rolled back');
  await db.transaction(async (tx) => {
    await tx.exec('INSERT INTO things (i) VALUES (?)', [-2]);
  });
  t.equal((await db.query('SELECT count(*) FROM things WHERE i = -2')).rows[0][0], 1, 'committed');
  await t.rejects(db.exec('INSERT INTO things (id) VALUES (1)'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
  let expected = 303;

  // A transaction left open on a second connection when the leader dies.
  const db2 = await client.open('incus.db');
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let inTx = (): void => undefined;
  const started = new Promise<void>((resolve) => (inTx = resolve));
  const txDone = db2.transaction(async (tx) => {
    await tx.exec('INSERT INTO things (i) VALUES (?)', [5000]);
    inTx();
    await gate;
    await tx.exec('INSERT INTO things (i) VALUES (?)', [5001]);
  });
  await started;

  // kill -9 the leader.
  const leader = await client.leader();
  const victim = [...members.values()].find((m) => m.address === leader.address) as Member;
  t.ok(victim, `leader is member ${leader.id}`);
  await killMember(victim);
  const killedAt = Date.now();
  // A write in flight at the kill could be ambiguous (EUNKNOWN); this one starts after it, so the client retries it itself.
  await db.exec('INSERT INTO things (i, s) VALUES (?, ?)', [1000, 'after failover']);
  expected++;
  const failover = Date.now() - killedAt;
  t.ok(failover < 30_000, `a new leader took the write ${failover} ms after the kill`);
  const newLeader = await client.leader();
  t.not(newLeader.id, victim.id, `member ${newLeader.id} leads now`);
  for (let i = 0; i < 20; i++) {
    await db.exec('INSERT INTO things (i) VALUES (?)', [2000 + i]);
    expected++;
  }
  t.equal((await db.query('SELECT count(*) FROM things')).rows[0][0], expected, 'reads and writes go on');
  release();
  await t.rejects(txDone, { code: 'ETXLOST' }, 'the open transaction is lost, not retried');
  const landed = await db.query('SELECT i FROM things WHERE i BETWEEN 5000 AND 5001');
  t.same(landed.rows, [], 'none of its writes landed');
  db2.close();

  // The killed member comes back on its address and catches up.
  members.delete(victim.id);
  const back = await startMember(victim.id, certDir, victim.port);
  await db.exec('INSERT INTO things (i) VALUES (?)', [3000]);
  expected++;
  const seen = await eventually('catch-up', 30_000, async () => {
    const n = await followerCount(client, back);
    if (n !== expected) throw new Error(`member ${back.id} has ${n} rows, wanted ${expected}`);
    return n;
  });
  t.equal(seen, expected, `member ${back.id}'s own copy has every row`);

  // Leadership moves to the restarted member; the client follows it.
  await eventually('transfer', 30_000, () => client.transfer(back.id));
  t.equal((await client.leader()).id, back.id, 'transferred');
  t.equal((await db.query('SELECT count(*) FROM things')).rows[0][0], expected, 'the client follows the new leader');
  await db.exec('INSERT INTO things (i) VALUES (?)', [4000]);

  // A clean stop of every member (node stop on its own thread).
  client.close();
  for (const m of members.values()) {
    const stopped = new Promise<void>((resolve) => m.child.once('exit', () => resolve()));
    m.child.send('stop');
    await stopped;
    t.equal(m.child.exitCode, 0, `member ${m.id} stopped cleanly`);
  }
  t.same(readdirSync(join(root, 'member1')).length > 0, true, 'raft data on disk');
});

t.test('errors carry codes', async (t) => {
  mkdirSync(join(root, 'cert'), { recursive: true });
  const cluster = await ensureServerKeypair(join(root, 'cert'));
  // Port 1 on 127.0.0.1: nothing listens there, the connection is refused.
  const client = new DqliteClient({ addresses: ['127.0.0.1:1'], dial: tlsDial(cluster), leaderTimeoutMs: 300, requestTimeoutMs: 200 });
  const err = await client.leader().catch((e: unknown) => e);
  t.ok(err instanceof DqliteError);
  t.equal((err as DqliteError).code, 'ENOLEADER');
  t.match((err as Error).message, /127\.0\.0\.1:1: cannot reach/);
  client.close();
  t.throws(() => new DqliteClient({ addresses: [], dial: tlsDial(cluster) }), TypeError);
});
