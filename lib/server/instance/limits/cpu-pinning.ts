/**
 * limits.cpu: a set pins to those CPUs; a count pins to that many of the
 * least used CPUs, spreading containers across the host as Incus balances.
 */
import { formatCpuSet, parseCpuSet } from '../config/units';

export class CpuPinning {
  /** CPUs each running instance holds, by instance key. */
  private readonly held = new Map<string, number[]>();

  constructor(private readonly hostCpus: number[]) {}

  /** The cpuset for an instance (null: no pinning), recorded as held. */
  assign(key: string, limit: string | undefined): string | null {
    this.held.delete(key);
    if (!limit) return null;
    let cpus: number[];
    if (/^\d+$/.test(limit)) {
      const n = Math.min(Number(limit), this.hostCpus.length);
      const load = new Map<number, number>(this.hostCpus.map((c) => [c, 0]));
      for (const set of this.held.values()) for (const c of set) load.set(c, (load.get(c) ?? 0) + 1);
      cpus = [...this.hostCpus].sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a - b).slice(0, n);
    } else {
      cpus = (parseCpuSet(limit) ?? []).filter((c) => this.hostCpus.includes(c));
      if (cpus.length === 0) throw new Error(`limits.cpu "${limit}" names no CPU of this host`);
    }
    this.held.set(key, cpus);
    return formatCpuSet(cpus);
  }

  release(key: string): void {
    this.held.delete(key);
  }

  /** Every host CPU, for lifting a pin. */
  all(): string {
    return formatCpuSet(this.hostCpus);
  }
}
