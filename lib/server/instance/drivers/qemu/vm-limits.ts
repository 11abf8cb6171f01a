/** A VM's vCPUs and memory from its config (`limits.cpu`, `limits.memory`), with Incus's defaults. */
import { totalmem } from 'node:os';
import { badRequest } from '../../../errors';
import { parseCpuSet, parseSize } from '../../config/units';

/** Incus gives a VM 1 vCPU and 1 GiB unless told otherwise. */
const DEFAULT_MEMORY = 1024 * 1024 * 1024;

/** vCPU count and, for a CPU list (`0,2` or `0-3`), the host CPUs to pin to. */
export function vmCpus(config: Record<string, string>): { cpus: number; pinned?: number[] } {
  const v = (config['limits.cpu'] ?? '').trim();
  if (v === '') return { cpus: 1 };
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1) throw badRequest('Invalid value for "limits.cpu": must be at least 1');
    return { cpus: n };
  }
  const set = parseCpuSet(v);
  if (!set || set.length === 0) throw badRequest(`Invalid value for "limits.cpu": ${JSON.stringify(v)}`);
  return { cpus: set.length, pinned: set };
}

/** Guest memory in bytes (`limits.memory`: a size or a percentage of the host's). */
export function vmMemory(config: Record<string, string>): number {
  const v = (config['limits.memory'] ?? '').trim();
  if (v === '') return DEFAULT_MEMORY;
  if (v.endsWith('%')) {
    const pct = Number(v.slice(0, -1));
    if (!(pct > 0 && pct <= 100)) throw badRequest(`Invalid value for "limits.memory": ${JSON.stringify(v)}`);
    return Math.floor((totalmem() * pct) / 100);
  }
  const bytes = parseSize(v);
  if (bytes === null || bytes < 32 * 1024 * 1024) throw badRequest(`Invalid value for "limits.memory": ${JSON.stringify(v)} (at least 32MiB)`);
  return bytes;
}
