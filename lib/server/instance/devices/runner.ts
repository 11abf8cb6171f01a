/**
 * Drives the device drivers through an instance's life for the instance
 * driver: run configuration before start, post-start helpers, cleanup after
 * stop, re-adoption after a daemon restart, and hot-plug/unplug of the
 * devices a PUT/PATCH (or a profile change) adds, removes or changes,
 * undone again if any step fails.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DevicesMap } from '../../../api/instance';
import { StatusError, badRequest } from '../../errors';
import { Reverter } from '../../revert';
import type { InstanceRuntime } from '../interface';
import type { DeviceDriver, DeviceHost, DeviceStartContext } from './interface';
import { deviceDriver } from './load';
import type { SourceWatch } from './source-watch';
import type { DeviceMonitors } from './device-monitors';
import { type DeviceRunConfig, mergeRunConfigs } from './run-config';
import { stopPidFile } from './pid-file';
import { unmountUnder } from './disk-staging';
import { childPath } from '../../names';

export interface DeviceRunnerOptions {
  /** INCUS_DIR. */
  varDir: string;
  host: DeviceHost;
  /** Writes a cgroup key of the running instance named dirName (the driver's way in). */
  setCgroup(dirName: string, key: string, value: string): Promise<void>;
  /** Host paths the devices follow while the instance runs (absent: nothing is followed). */
  sourceWatch?: SourceWatch;
  /** Background checks devices run while the instance runs (absent: none run). */
  monitors?: DeviceMonitors;
}

type Entry = [string, Record<string, string>];

/**
 * How an instance driver that does the plugging itself (VMs) brings a
 * device into and out of a running instance: the device's start() prepares
 * the host side and describes what it needs (its run configuration), the
 * driver plugs that in; unplug, then the device's stop() cleans the host.
 */
export interface DevicePlugger {
  /** Device types that can be plugged (DriverFeatures.hotplugDevices). */
  readonly types: readonly string[];
  /** Plugs device `name` described by `config` into the running instance. */
  plug(name: string, config: DeviceRunConfig): Promise<void>;
  /** Unplugs device `name` (a no-op for what was never plugged). */
  unplug(name: string): Promise<void>;
}

/** Setup order: disks by mount path (parents before children), then the rest by name. */
export function deviceOrder(devices: DevicesMap): Entry[] {
  const key = ([name, d]: Entry): string => (d.type === 'disk' ? `0${d.path ?? ''}\0${name}` : `1${name}`);
  return Object.entries(devices ?? {}).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Devices of `after` that are new or changed, and of `before` that are gone or changed. */
export function deviceChanges(before: DevicesMap, after: DevicesMap): { removed: Entry[]; added: Entry[] } {
  const same = (a: Record<string, string>, b: Record<string, string>): boolean => {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
  };
  const removed = deviceOrder(before).filter(([n, d]) => !after[n] || !same(d, after[n]));
  const added = deviceOrder(after).filter(([n, d]) => !before[n] || !same(d, before[n]));
  return { removed, added };
}

/** Whether the driver does anything at run time (a `none` device does not). */
function acts(d: DeviceDriver): boolean {
  return Boolean(d.start || d.postStart || d.hotplug || d.hotunplug);
}

/** A device failure with the device named, keeping a 4xx status when there was one. */
function failed(verb: string, name: string, err: unknown): StatusError {
  // Already a caller-facing answer about this device (e.g. a VM that cannot take it while running).
  if (err instanceof StatusError && err.message.startsWith(`Device "${name}" `)) return err;
  const msg = `Failed to ${verb} device "${name}": ${(err as Error)?.message ?? String(err)}`;
  return new StatusError(err instanceof StatusError ? err.status : verb === 'start' ? 500 : 400, msg);
}

export class DeviceRunner {
  constructor(private readonly opts: DeviceRunnerOptions) {}

  devicesDir(dirName: string): string {
    // rm -rf'd by sweep(): never anything but a child of devices/.
    return childPath(join(this.opts.varDir, 'devices'), dirName);
  }

  private ctx(inst: InstanceRuntime, dirName: string, [name, config]: Entry, pid?: number): DeviceStartContext {
    return {
      inst,
      name,
      config,
      varDir: this.opts.varDir,
      dirName,
      setCgroup: (key, value) => this.opts.setCgroup(dirName, key, value),
      devicesDir: this.devicesDir(dirName),
      logDir: join(this.opts.varDir, 'logs', dirName),
      host: this.opts.host,
      pid,
      sourceWatch: this.opts.sourceWatch,
      monitors: this.opts.monitors,
    };
  }

  private entries(devices: DevicesMap): [Entry, DeviceDriver][] {
    const out: [Entry, DeviceDriver][] = [];
    for (const e of deviceOrder(devices)) {
      const d = deviceDriver(e[1].type);
      if (d) out.push([e, d]);
    }
    return out;
  }

  /**
   * Removes what a previous run left in the devices directory (a container
   * that stopped on its own gets no stop hook): helper processes named by
   * PID files, then the files. Also for a deleted instance.
   */
  async sweep(dirName: string): Promise<void> {
    const dir = this.devicesDir(dirName);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const st = await lstat(join(dir, n)).catch(() => null);
      if (st?.isFile()) await stopPidFile(join(dir, n));
    }
    // A staged volume (disk-staging.ts) a crash left mounted must not be emptied by the removal.
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  }

  /** What every device needs at start, host side prepared; undone on failure. */
  async startConfig(inst: InstanceRuntime, dirName: string): Promise<Required<DeviceRunConfig>> {
    await this.sweep(dirName);
    const configs: DeviceRunConfig[] = [];
    const r = new Reverter();
    try {
      for (const [e, d] of this.entries(inst.expandedDevices)) {
        const ctx = this.ctx(inst, dirName, e);
        if (d.stop) r.add(() => d.stop!(ctx));
        if (!d.start) continue;
        try {
          const c = await d.start(ctx);
          if (c) configs.push(c);
        } catch (err) {
          throw failed('start', e[0], err);
        }
      }
      r.success();
      return mergeRunConfigs(configs);
    } catch (err) {
      await r.fail();
      throw err;
    }
  }

  /** Post-start work of every device (the container's init is `pid`). */
  async postStart(inst: InstanceRuntime, dirName: string, pid: number): Promise<void> {
    for (const [e, d] of this.entries(inst.expandedDevices)) {
      if (!d.postStart) continue;
      try {
        await d.postStart(this.ctx(inst, dirName, e, pid));
      } catch (err) {
        throw failed('start', e[0], err);
      }
    }
  }

  /** Host-side cleanup once the container has stopped; returns the failures, if any. */
  async stopped(inst: InstanceRuntime, dirName: string): Promise<string[]> {
    const problems: string[] = [];
    for (const [e, d] of this.entries(inst.expandedDevices).reverse()) {
      if (!d.stop) continue;
      await d.stop(this.ctx(inst, dirName, e)).catch((err: Error) => problems.push(`${e[0]}: ${err.message}`));
    }
    await this.sweep(dirName).catch((err: Error) => problems.push(err.message));
    return problems;
  }

  /** After a daemon restart: re-adopt or restart the helpers of a running container. */
  async resume(inst: InstanceRuntime, dirName: string, pid: number): Promise<void> {
    for (const [e, d] of this.entries(inst.expandedDevices)) {
      if (!d.resume) continue;
      try {
        await d.resume(this.ctx(inst, dirName, e, pid));
      } catch (err) {
        throw failed('start', e[0], err);
      }
    }
  }

  /**
   * Brings a running instance (init or QEMU `pid`) from the devices in
   * `before` to inst.expandedDevices: removed and changed devices are
   * unplugged, new and changed ones plugged, by the devices themselves
   * (containers) or by `plugger` (VMs). On a failure everything done is
   * undone and a 400 naming the device is thrown.
   */
  async apply(inst: InstanceRuntime, dirName: string, pid: number, before: DevicesMap, plugger?: DevicePlugger): Promise<void> {
    const { removed, added } = deviceChanges(before, inst.expandedDevices);
    const plan = (list: Entry[]): [Entry, DeviceDriver][] =>
      list.flatMap((e) => {
        const d = deviceDriver(e[1].type);
        return d && acts(d) ? [[e, d] as [Entry, DeviceDriver]] : [];
      });
    const out = plan(removed).reverse();
    const into = plan(added);
    const can = (d: DeviceDriver, how: 'hotplug' | 'hotunplug'): boolean => (plugger ? plugger.types.includes(d.type) : Boolean(d[how]));
    for (const [[name], d] of out) if (!can(d, 'hotunplug')) throw badRequest(`Device "${name}" cannot be removed when instance is running`);
    for (const [[name], d] of into) if (!can(d, 'hotplug')) throw badRequest(`Device "${name}" cannot be added when instance is running`);
    const plug = (ctx: DeviceStartContext, d: DeviceDriver) => (plugger ? this.plugInto(plugger, ctx, d) : d.hotplug!(ctx));
    const unplug = (ctx: DeviceStartContext, d: DeviceDriver) => (plugger ? this.unplugFrom(plugger, ctx, d) : d.hotunplug!(ctx));

    const r = new Reverter();
    try {
      for (const [e, d] of out) {
        const ctx = this.ctx(inst, dirName, e, pid);
        try {
          await unplug(ctx, d);
        } catch (err) {
          throw failed('remove', e[0], err);
        }
        r.add(() => plug(ctx, d));
      }
      for (const [e, d] of into) {
        const ctx = this.ctx(inst, dirName, e, pid);
        r.add(() => unplug(ctx, d));
        try {
          await plug(ctx, d);
        } catch (err) {
          throw failed('add', e[0], err);
        }
      }
      r.success();
    } catch (err) {
      await r.fail();
      throw err;
    }
  }

  /** VMs: the device's start() (host side, run configuration), the driver's plug, then its postStart(); undone on failure. */
  private async plugInto(plugger: DevicePlugger, ctx: DeviceStartContext, d: DeviceDriver): Promise<void> {
    const r = new Reverter();
    try {
      if (d.stop) r.add(() => d.stop!(ctx));
      const config = (await d.start?.(ctx)) ?? {};
      r.add(() => plugger.unplug(ctx.name));
      await plugger.plug(ctx.name, config);
      await d.postStart?.(ctx);
      r.success();
    } catch (err) {
      await r.fail();
      throw err;
    }
  }

  /** VMs: the driver's unplug, then the device's host-side stop(). */
  private async unplugFrom(plugger: DevicePlugger, ctx: DeviceStartContext, d: DeviceDriver): Promise<void> {
    await plugger.unplug(ctx.name);
    await d.stop?.(ctx);
  }
}
