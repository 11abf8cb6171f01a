/**
 * A three-member cluster in the testbed (each member in namespaces of its
 * own): bootstrap and two joins through preseeds, then kill -9 of the
 * database leader. The other two elect a leader and serve reads and writes
 * within 30 s; the killed member, started again, rejoins and has what was
 * written while it was down.
 */
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ClusterTestbed } from './lib/cluster-testbed';

const ADDR = (i: number) => `10.203.0.${10 + i}:8443`;

/** `cluster list -f csv` on member i: name → roles, status. */
async function members(t: Test, tb: ClusterTestbed, i: number): Promise<Map<string, { roles: string; status: string }>> {
  const r = await tb.cli(i, ['cluster', 'list', '-f', 'csv'], { timeoutMs: 30_000 });
  t.equal(r.code, 0, `cluster list on m${i}${r.code === 0 ? '' : `: ${r.stderr}`}`);
  const out = new Map<string, { roles: string; status: string }>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const m = /^([^,]+),[^,]*,("[^"]*"|[^,]*),(?:[^,]*,){3}([^,]*),/.exec(line);
    if (m) out.set(m[1]!, { roles: m[2]!.replace(/"/g, ''), status: m[3]! });
  }
  return out;
}

t.test('kill -9 of the database leader: a new leader serves within 30 s; the member rejoins', async (t) => {
  const tb = await ClusterTestbed.start(t, 3);
  const ok = async (i: number, args: string[], input?: string): Promise<string> => {
    const r = await tb.cli(i, args, { input, timeoutMs: 60_000 });
    t.equal(r.code, 0, `m${i}: incus ${args.join(' ')}${r.code === 0 ? '' : `: ${r.stderr}`}`);
    return r.stdout;
  };
  await ok(1, ['config', 'set', `core.https_address=${ADDR(1)}`]);
  await ok(1, ['cluster', 'enable', 'm1']);
  for (const i of [2, 3]) {
    const token = (await ok(1, ['cluster', 'add', `m${i}`])).trim().split('\n').pop()!;
    await ok(i, ['admin', 'init', '--preseed'], `cluster:\n  enabled: true\n  server_address: ${ADDR(i)}\n  cluster_token: ${token}\n`);
  }
  const before = await members(t, tb, 2);
  t.same([...before.keys()].sort(), ['m1', 'm2', 'm3'], 'three members');
  t.ok([...before.values()].every((m) => m.roles.split(',').includes('database')), 'three database voters');
  const leader = [...before].find(([, m]) => m.roles.includes('database-leader'))?.[0];
  t.ok(leader, `a leader: ${leader}`);
  await ok(1, ['profile', 'create', 'before']);

  const k = Number(leader!.slice(1));
  const others = [1, 2, 3].filter((i) => i !== k);
  // Every member copies the raft membership into its local store: the leader, once killed, restarts through it.
  const raftKnown = (): number => {
    const db = new Database(join(tb.member(k).dir, 'database', 'local.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM raft_nodes').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const since = Date.now();
  while (raftKnown() < 3 && Date.now() - since < 30_000) await new Promise((res) => setTimeout(res, 200));
  t.equal(raftKnown(), 3, `${leader}'s local store lists the three raft members`);
  await tb.kill(k);
  const killedAt = Date.now();
  let wroteAfter = -1;
  while (Date.now() - killedAt < 60_000) {
    const r = await tb.cli(others[0]!, ['profile', 'create', 'after'], { timeoutMs: 30_000 });
    if (r.code === 0) {
      wroteAfter = Date.now() - killedAt;
      break;
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
  t.ok(wroteAfter >= 0 && wroteAfter < 30_000, `a write on m${others[0]} ${wroteAfter} ms after the kill (within 30 s)`);
  t.comment(`write served ${wroteAfter} ms after kill -9 of ${leader}`);
  const read = await ok(others[1]!, ['profile', 'list', '-f', 'csv']);
  t.match(read, /^after,/m, `m${others[1]} reads the write`);
  t.match(read, /^before,/m, 'and what was there before');
  const now = await members(t, tb, others[1]!);
  const newLeader = [...now].find(([, m]) => m.roles.includes('database-leader'))?.[0];
  t.ok(newLeader && newLeader !== leader, `a new leader: ${newLeader}`);

  await tb.restart(k);
  t.match(await ok(k, ['profile', 'list', '-f', 'csv']), /^after,/m, `${leader}, started again, has the write made while it was down`);
  await ok(k, ['profile', 'create', 'back']);
  t.match(await ok(others[0]!, ['profile', 'list', '-f', 'csv']), /^back,/m, `a write on ${leader} reaches m${others[0]}`);
  t.same([...(await members(t, tb, k)).keys()].sort(), ['m1', 'm2', 'm3'], 'three members again');
});
