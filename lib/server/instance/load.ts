/**
 * The instance-driver registry: one driver per instance type (containers:
 * drivers/lxc, virtual machines: drivers/qemu). The daemon builds it at
 * start-up from the drivers this host can run; the instance layer and the
 * routes reach a driver only through it.
 */
import type { InstanceType } from '../../api/instance';
import { StatusCode, StatusText } from '../../api/response';
import { badRequest } from '../errors';
import type { InstanceDriver, InstanceRuntime, MetricsTarget, RuntimeState, StatesOptions } from './interface';
import type { HostFacts } from '../metrics/instance-metrics';
import type { MetricText } from '../metrics/openmetrics';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LxcDriver } from './drivers/lxc/driver';
import { QemuDriver } from './drivers/qemu/driver';
import { QEMU_BINARY } from './drivers/qemu/qemu-config';

const execFileP = promisify(execFile);

/** Names what a states() call needs of an instance. */
export type StateTarget = Pick<InstanceRuntime, 'project' | 'name'> & { type: InstanceType };

/** What an instance type that this host cannot run answers with. */
const UNSUPPORTED: Record<InstanceType, string> = {
  container: 'Containers are not supported on this server',
  'virtual-machine': 'Virtual machines are not supported on this server',
};

export class InstanceDrivers {
  private readonly byType: Map<InstanceType, InstanceDriver>;
  /** Why a type is missing (e.g. QEMU not installed), for the 400 that says so. */
  private readonly missing: Map<InstanceType, string>;

  constructor(drivers: readonly InstanceDriver[], missing: Partial<Record<InstanceType, string>> = {}) {
    this.byType = new Map(drivers.map((d) => [d.info.type, d]));
    this.missing = new Map(Object.entries(missing) as [InstanceType, string][]);
  }

  /** The driver of `type`; a 400 saying why when this host has none. */
  of(type: InstanceType): InstanceDriver {
    const d = this.byType.get(type);
    if (d) return d;
    throw badRequest(this.missing.get(type) ?? UNSUPPORTED[type] ?? `Invalid instance type "${String(type)}"`);
  }

  /** The driver of `type`, or undefined when this host has none. */
  find(type: InstanceType): InstanceDriver | undefined {
    return this.byType.get(type);
  }

  /** Why this host has no driver for `type` (undefined when it has one). */
  problem(type: InstanceType): string | undefined {
    return this.byType.has(type) ? undefined : (this.missing.get(type) ?? UNSUPPORTED[type]);
  }

  /** Every driver this host runs. */
  all(): InstanceDriver[] {
    return [...this.byType.values()];
  }

  /**
   * State of many instances, in the order given: one batched call per
   * driver. An instance of a type this host cannot run reads as stopped.
   */
  async states(list: readonly StateTarget[], opts?: StatesOptions): Promise<RuntimeState[]> {
    if (list.length === 0) return [];
    const first = list[0].type;
    // The common case (one type): no regrouping.
    if (list.every((i) => i.type === first)) {
      const d = this.byType.get(first);
      return d ? d.states(list as StateTarget[], opts) : list.map(stoppedState);
    }
    const out: RuntimeState[] = new Array(list.length);
    await Promise.all(
      [...groupByType(list)].map(async ([type, idx]) => {
        const d = this.byType.get(type);
        const got = d ? await d.states(idx.map((n) => list[n]), opts) : idx.map((n) => stoppedState(list[n]));
        idx.forEach((n, k) => (out[n] = got[k]));
      }),
    );
    return out;
  }

  /**
   * `/1.0/metrics`: writes the samples of the running ones of `list` to
   * `out`, one batched read per driver; types whose driver has no metrics
   * are left out.
   */
  async metrics(list: readonly MetricsTarget[], host: HostFacts, out: (t: MetricsTarget) => MetricText): Promise<void> {
    await Promise.all(
      [...groupByType(list)].map(async ([type, idx]) => {
        const d = this.byType.get(type);
        if (d?.metrics) await d.metrics(idx.map((n) => list[n]!), host, out);
      }),
    );
  }
}

/** Positions in `list` by instance type. */
function groupByType(list: readonly { type: InstanceType }[]): Map<InstanceType, number[]> {
  const groups = new Map<InstanceType, number[]>();
  list.forEach((i, n) => {
    const g = groups.get(i.type);
    if (g) g.push(n);
    else groups.set(i.type, [n]);
  });
  return groups;
}

function stoppedState(_: StateTarget): RuntimeState {
  return { status: StatusText[StatusCode.Stopped], statusCode: StatusCode.Stopped, pid: -1, processes: 0, memoryUsage: 0, memoryPeak: 0, swapUsage: 0, swapPeak: 0, cpuUsage: 0 };
}

/** What building the drivers needs. */
export interface DriverOptions {
  /** INCUS_DIR. */
  varDir: string;
  debug: boolean;
  /** Where lxcfs is mounted, when not /var/lib/lxcfs. */
  lxcfsDir?: string;
  /** Warnings the drivers raise once (VMs under emulation). */
  warn?(message: string): void;
}

/**
 * The drivers this host runs: containers through liblxc, and virtual
 * machines through QEMU when its binary answers (otherwise launching a VM
 * is a 400 that says what is missing).
 */
export async function createInstanceDrivers(opts: DriverOptions): Promise<InstanceDrivers> {
  const lxc = new LxcDriver({ varDir: opts.varDir, debug: opts.debug, lxcfsDir: opts.lxcfsDir });
  const qemu = await qemuVersion();
  if (qemu.version === null) return new InstanceDrivers([lxc], { 'virtual-machine': qemu.problem });
  const vm = new QemuDriver({ varDir: opts.varDir, version: qemu.version, warn: opts.warn });
  return new InstanceDrivers([lxc, vm]);
}

/** QEMU's version (`QEMU emulator version 7.2.19 (...)`), or why there is none. */
async function qemuVersion(): Promise<{ version: string; problem?: undefined } | { version: null; problem: string }> {
  const binary = process.env.INCUS_QEMU_BINARY || QEMU_BINARY;
  try {
    const { stdout } = await execFileP(binary, ['--version'], { timeout: 10000 });
    const m = /version (\S+)/.exec(stdout);
    return { version: m ? m[1] : 'unknown' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { version: null, problem: e.code === 'ENOENT' ? `Virtual machines need QEMU: "${binary}" not found (install qemu-system-x86)` : `QEMU does not run: ${e.message}` };
  }
}
