/**
 * Many running busybox containers at once, ours (through the daemon) or
 * raw (lxc-start on a private lxcpath), launched a few at a time and torn
 * down in parallel even on SIGINT.
 */

import fs from 'node:fs/promises';
import type { BenchContext } from './case';
import type { Deferred } from './cleanup';
import { BENCH_IMAGE_ALIAS, IncusDaemon } from './incus-daemon';
import { RawLxcDriver } from './raw-lxc';
import { timeMs } from './stats';

/** Launches at once: enough to keep two cores busy without thrashing. */
export const FLEET_PARALLEL = 8;

/** Runs `fn(i)` for i in [from, to) with at most `width` in flight; stops at the first failure. */
export async function pool(from: number, to: number, width: number, signal: AbortSignal, fn: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < to && failure === undefined && !signal.aborted) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, Math.max(0, to - from)) }, worker));
  if (failure !== undefined) throw failure;
  if (signal.aborted) throw new Error('interrupted');
}

/** How many containers of a fleet exist and run, read independently of the steps that made them. */
export interface FleetInventory {
  existing: number;
  running: number;
}

/** Containers launched through our daemon; {@link grow} adds, the deferred step deletes them all. */
export class IncusFleet {
  readonly names: string[] = [];
  /** How many of {@link names} were started. */
  running = 0;
  private readonly undo: Deferred;

  /** @param config instance config every launch gets (e.g. raw.lxc for a slow halt). */
  constructor(
    private readonly ctx: BenchContext,
    private readonly daemon: IncusDaemon,
    private readonly prefix: string,
    private readonly config: Record<string, string> = {},
  ) {
    this.undo = ctx.defer(`${prefix} fleet`, () => this.deleteAll());
  }

  /**
   * Launches (create + start) until `count` run, `width` at a time;
   * `onEach` sees the running count and that launch's milliseconds.
   */
  async grow(count: number, onEach?: (running: number, ms: number) => void, width = FLEET_PARALLEL): Promise<void> {
    const c = this.daemon.client;
    await pool(this.names.length, count, width, this.ctx.signal, async (i) => {
      const name = `${this.prefix}-${i}`;
      const ms = await timeMs(async () => {
        await (await c.createInstance({ name, source: { type: 'image', alias: BENCH_IMAGE_ALIAS }, config: this.config })).wait();
        this.names.push(name);
        await (await c.updateInstanceState(name, { action: 'start' })).wait();
      });
      this.running++;
      onEach?.(this.running, ms);
    });
  }

  /** Force-stops and deletes every instance of the fleet (what `incus delete -f` does), `width` at a time. */
  async deleteAll(width = FLEET_PARALLEL): Promise<void> {
    const c = this.daemon.client;
    const names = this.names.splice(0);
    this.running = 0;
    const ac = new AbortController();
    await pool(0, names.length, width, ac.signal, async (i) => {
      try {
        await (await c.updateInstanceState(names[i], { action: 'stop', force: true })).wait();
      } catch {
        // Stopped already, or never started.
      }
      try {
        await (await c.deleteInstance(names[i])).wait();
      } catch (err) {
        this.ctx.log(`deleting ${names[i]}: ${(err as Error).message}`);
      }
    });
  }

  /** The daemon's own account of the instances named like this fleet's. */
  async inventory(): Promise<FleetInventory> {
    const mine = (await this.daemon.client.getInstances(1)).filter((i) => i.name.startsWith(`${this.prefix}-`));
    return { existing: mine.length, running: mine.filter((i) => i.status === 'Running').length };
  }

  /** Runs the teardown now. */
  close(): Promise<void> {
    return this.undo.run();
  }
}

/** Containers started with plain lxc-start on one private lxcpath. */
export class RawFleet {
  private readonly driver: RawLxcDriver;
  /** Containers launched and not deleted yet. */
  readonly names: string[] = [];
  private next = 0;

  constructor(private readonly ctx: BenchContext, private readonly lxcpath: string, image: string, private readonly prefix: string) {
    this.driver = new RawLxcDriver(ctx, lxcpath, image);
  }

  /**
   * Starts raw containers until `count` run, `width` at a time; `onEach`
   * sees the running count and that launch's milliseconds.
   */
  async grow(count: number, onEach?: (running: number, ms: number) => void, width = FLEET_PARALLEL): Promise<void> {
    await fs.mkdir(this.lxcpath, { recursive: true, mode: 0o755 });
    await pool(this.names.length, count, width, this.ctx.signal, async () => {
      const name = `${this.prefix}-${this.next++}`;
      const ms = await timeMs(() => this.driver.launch(name));
      this.names.push(name);
      onEach?.(this.names.length, ms);
    });
  }

  /** lxc-stop -k and rm -rf of every container of the fleet, `width` at a time. */
  async deleteAll(width = FLEET_PARALLEL): Promise<void> {
    const names = this.names.splice(0);
    // Whatever an interrupt leaves is the driver's deferred steps' to remove.
    await pool(0, names.length, width, this.ctx.signal, (i) => this.driver.deleteForce(names[i]));
  }

  /** liblxc's account of the containers named like this fleet's on the lxcpath. */
  async inventory(): Promise<FleetInventory> {
    const count = async (...flags: string[]): Promise<number> => {
      const r = await this.ctx.exec('lxc-ls', ['-P', this.lxcpath, ...flags, '-1']);
      return r.stdout.split('\n').filter((n) => n.startsWith(`${this.prefix}-`)).length;
    };
    return { existing: await count(), running: await count('--running') };
  }

  /** lxc-stop -k and rm -rf of what is left (the driver's own deferred steps). */
  close(): Promise<void> {
    this.names.length = 0;
    return this.driver.close();
  }
}

/** Host memory in use (MemTotal - MemAvailable), in MiB. */
export async function hostUsedMiB(): Promise<number> {
  const text = await fs.readFile('/proc/meminfo', 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return (kb('MemTotal') - kb('MemAvailable')) / 1024;
}

/** Resident set of `pid`, in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  const text = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(text)?.[1] ?? NaN) / 1024;
}

/** Memory a fleet holds, measured per container rather than host-wide. */
export interface FleetMemory {
  /** Sum of memory.usage_in_bytes (v1; memory.current on v2) of each container's cgroup, MiB. */
  cgroups: number;
  /** Sum of PSS of host-side processes naming the lxcpath (liblxc monitors), MiB. */
  hostSide: number;
}

async function cgroupUsageMiB(pid: number): Promise<number> {
  const lines = (await fs.readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (v1) {
    const rel = v1.slice(v1.indexOf(':', v1.indexOf(':') + 1) + 1);
    return Number(await fs.readFile(`/sys/fs/cgroup/memory${rel}/memory.usage_in_bytes`, 'utf8')) / 2 ** 20;
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (!v2) throw new Error(`no memory cgroup for pid ${pid}`);
  return Number(await fs.readFile(`/sys/fs/cgroup${v2.slice(3)}/memory.current`, 'utf8')) / 2 ** 20;
}

async function pssMiB(pid: string): Promise<number> {
  const text = await fs.readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0) / 1024;
}

/**
 * What `initPids`' containers hold in their cgroups, plus the PSS of the
 * host processes whose command line names `lxcpath` (the monitors).
 */
export async function fleetMemory(lxcpath: string, initPids: readonly number[]): Promise<FleetMemory> {
  let cgroups = 0;
  for (const pid of initPids) cgroups += await cgroupUsageMiB(pid);
  let hostSide = 0;
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      if (cmd.includes(lxcpath)) hostSide += await pssMiB(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return { cgroups, hostSide };
}
