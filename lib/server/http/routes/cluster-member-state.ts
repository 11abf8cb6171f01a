/**
 * `GET /1.0/cluster/members/{name}/state` (Incus's cluster_member_state):
 * the member's system figures and its storage pools' usage, answered by the
 * member itself (another member passes the request on).
 */
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import { badRequest, notFound, StatusError } from '../../errors';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';

/** Fields of /proc/meminfo in bytes. */
async function meminfo(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await readFile('/proc/meminfo', 'utf8')).split('\n')) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/** The number of processes (the total of /proc/loadavg's running/total field). */
async function processes(): Promise<number> {
  const f = (await readFile('/proc/loadavg', 'utf8')).split(' ')[3] ?? '0/0';
  return Number(f.split('/')[1] ?? 0);
}

export function registerClusterMemberState(app: FastifyInstance, s: DaemonState): void {
  app.get<{ Params: { name: string } }>('/1.0/cluster/members/:name/state', async (req) => {
    if (!s.cluster.clustered) throw badRequest('This server is not clustered');
    if (!(await s.db.members.get(req.params.name))) throw notFound('Cluster member not found');
    if (req.params.name !== s.cluster.serverName) throw new StatusError(500, `Cluster member "${req.params.name}" cannot be reached`);
    const mem = await meminfo();
    const storagePools: Record<string, unknown> = {};
    for (const p of await s.pools.list()) {
      if (!p.onMember) continue;
      storagePools[p.name] = await s.pools.resources(p).catch(() => ({ space: { used: 0, total: 0 }, inodes: { used: 0, total: 0 } }));
    }
    return syncResponse({
      sysinfo: {
        uptime: Math.floor(uptime()),
        load_averages: loadavg(),
        total_ram: totalmem(),
        free_ram: freemem(),
        shared_ram: mem.Shmem ?? 0,
        buffered_ram: mem.Buffers ?? 0,
        total_swap: mem.SwapTotal ?? 0,
        free_swap: mem.SwapFree ?? 0,
        processes: await processes(),
        logical_cpus: cpus().length,
      },
      storage_pools: storagePools,
    });
  });
}
