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
}

type Entry = [string, Record<string, string>];

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
   * Brings a running container (init `pid`) from the devices in `before` to
   * inst.expandedDevices: removed and changed devices are unplugged, new and
   * changed ones plugged. On a failure everything done is undone and a 400
   * naming the device is thrown.
   */
  async apply(inst: InstanceRuntime, dirName: string, pid: number, before: DevicesMap): Promise<void> {
    const { removed, added } = deviceChanges(before, inst.expandedDevices);
    const plan = (list: Entry[]): [Entry, DeviceDriver][] =>
      list.flatMap((e) => {
        const d = deviceDriver(e[1].type);
        return d && acts(d) ? [[e, d] as [Entry, DeviceDriver]] : [];
      });
    const out = plan(removed).reverse();
    const into = plan(added);
    for (const [[name], d] of out) if (!d.hotunplug) throw badRequest(`Device "${name}" cannot be removed when instance is running`);
    for (const [[name], d] of into) if (!d.hotplug) throw badRequest(`Device "${name}" cannot be added when instance is running`);

    const r = new Reverter();
    try {
      for (const [e, d] of out) {
        const ctx = this.ctx(inst, dirName, e, pid);
        try {
          await d.hotunplug!(ctx);
        } catch (err) {
          throw failed('remove', e[0], err);
        }
        r.add(() => d.hotplug!(ctx));
      }
      for (const [e, d] of into) {
        const ctx = this.ctx(inst, dirName, e, pid);
        r.add(() => d.hotunplug!(ctx));
        try {
          await d.hotplug!(ctx);
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
}
