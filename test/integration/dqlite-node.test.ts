/**
 * The dqlite node wrapper in this process: lifecycle errors with codes,
 * recover() on a stopped node, the bind socket and every dqlite fd
 * close-on-exec, the event loop free while dqlite starts and stops, and
 * callers serialized around a transaction on one connection.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binding } from '../../lib/native/addon';
import { DqliteNode, dqliteVersion } from '../../lib/native/dqlite';
import { DqliteClient } from '../../lib/server/db/dqlite';

const root = mkdtempSync(join(tmpdir(), 'dqlite-node-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

/** Open fds (above stdio) without FD_CLOEXEC, with what they point at. */
function inheritableFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    if (Number(fd) < 3) continue;
    try {
      const flags = parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
      if (!(flags & 0o2000000)) out.push(`${fd} ${readlinkSync(`/proc/self/fd/${fd}`)}`);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

const noDial = async (): Promise<never> => {
  throw new Error('single-member test: no peers');
};

t.test('lifecycle, errors, fds, recover', async (t) => {
  t.ok(dqliteVersion() >= 11000, `libdqlite ${dqliteVersion()}`);
  const before = new Set(inheritableFds());
  const dataDir = mkdtempSync(join(root, 'data-'));
  const name = `@incusd-dqlite-test-${process.pid}`;
  const node = await DqliteNode.create({ id: 1, address: 'member-1', dataDir, dial: noDial, bindAddress: name, networkLatencyMs: 5 });
  t.equal(node.bindAddress, name);

  // The event loop keeps turning while start runs on its own thread.
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  await node.start();
  clearInterval(ticker);
  t.pass(`the event loop ticked ${ticks} times while start ran on its own thread`);
  await t.rejects(node.start(), { code: 'EALREADY' }, 'start twice');
  t.throws(() => binding().dqliteNodeSetBindAddress((node as unknown as { handle: never }).handle, '@x'), { code: 'EBUSY' }, 'bind while running');
  await t.rejects(node.recover([{ id: 1, address: 'member-1' }]), { code: 'EBUSY' }, 'recover while running');
  t.throws(() => binding().dqliteNodeDestroy((node as unknown as { handle: never }).handle), { code: 'EBUSY' }, 'destroy while running');
  t.same(inheritableFds().filter((f) => !before.has(f)), [], 'every new fd is close-on-exec');

  const client = new DqliteClient({ addresses: ['member-1'], dial: async () => node.connectLocal() });
  const db = await client.open('app.db');
  await db.exec('CREATE TABLE log (n INTEGER)');

  // A transaction holds the connection: a concurrent exec waits for it.
  const order: string[] = [];
  const tx = db.transaction(async (tx) => {
    order.push('tx begin');
    await tx.exec('INSERT INTO log VALUES (1)');
    await new Promise((r) => setTimeout(r, 100));
    await tx.exec('INSERT INTO log VALUES (2)');
    order.push('tx end');
  });
  const other = db.exec('INSERT INTO log VALUES (3)').then(() => order.push('other'));
  await Promise.all([tx, other]);
  t.same(order, ['tx begin', 'tx end', 'other'], 'no interleaving on one connection');
  t.same((await db.query('SELECT n FROM log ORDER BY rowid')).rows, [[1], [2], [3]]);
  client.close();

  await node.stop();
  await node.stop(); // a stopped node: resolves at once
  await t.rejects(node.start(), { code: 'EINVAL' }, 'a stopped node does not start again');
  await t.rejects(node.recover([{ id: 1, address: 'member-1' }]), { code: 'EINVAL' }, 'recover needs a fresh node');
  await node.close();
  await node.close();

  // recover() on a fresh node over the same data: a one-member configuration under a new address.
  const fresh = await DqliteNode.create({ id: 1, address: 'member-1', dataDir, dial: noDial });
  await fresh.recover([{ id: 1, address: 'member-1b', role: 'voter' }]);
  await fresh.close();

  // The same data directory again: the data survived stop and recover.
  const again = await DqliteNode.create({ id: 1, address: 'member-1b', dataDir, dial: noDial });
  await again.start();
  const client2 = new DqliteClient({ addresses: ['member-1b'], dial: async () => again.connectLocal() });
  const db2 = await client2.open('app.db');
  t.same((await db2.query('SELECT count(*) FROM log')).rows, [[3]], 'data kept');
  t.same(await client2.cluster(), [{ id: 1, address: 'member-1b', role: 'voter' }], 'the recovered configuration');
  client2.close();
  await again.close();
  t.same(inheritableFds().filter((f) => !before.has(f)), [], 'nothing left open');
});

t.test('argument checks', async (t) => {
  await t.rejects(DqliteNode.create({ id: 0, address: 'a', dataDir: root, dial: noDial }), RangeError);
  await t.rejects(DqliteNode.create({ id: 1, address: 'a', dataDir: root, dial: noDial, bindAddress: 'x' }), TypeError);
  await t.rejects(
    DqliteNode.create({ id: 1, address: 'a', dataDir: join(root, 'missing'), dial: noDial }),
    { code: 'EDQLITE', op: 'dqliteNodeCreate' },
    'a missing data directory',
  );
  t.throws(() => binding().dqliteConnectAbstract(''), TypeError);
  t.throws(() => binding().dqliteConnectAbstract(`@nobody-listens-${process.pid}`), { code: 'ECONNREFUSED' });
});
