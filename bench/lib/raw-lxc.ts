/**
 * The floor: plain liblxc tools on the same busybox rootfs, with the same
 * unprivileged idmapped config (lxc.idmap 0 1000000 65536, idmap=container,
 * no network) as the daemon.
 */

import fs from 'node:fs/promises';
import path from 'node:path';
import type { BenchContext } from './case';
import type { Deferred } from './cleanup';
import { CLEAN_STOP_TIMEOUT_S, LifecycleDriver } from './lifecycle-driver';

/**
 * The container config the floor uses: the base Incus writes for an
 * unprivileged container (no ttys, 1024 ptys, autodev, proc/sys/cgroup
 * mounts), the idmap, no NIC. No lxc.include: the distribution's
 * common.conf.d adds lxcfs hooks, and its post-stop hook alone sleeps
 * 0.5 s on every stop.
 */
export function rawLxcConfig(name: string, ctdir: string): string {
  return [
    `lxc.uts.name = ${name}`,
    'lxc.arch = linux64',
    `lxc.log.file = ${path.join(ctdir, 'lxc.log')}`,
    'lxc.log.level = warn',
    'lxc.tty.max = 0',
    'lxc.pty.max = 1024',
    'lxc.autodev = 1',
    'lxc.mount.auto = proc:rw sys:rw cgroup:rw:force',
    'lxc.apparmor.profile = unconfined',
    'lxc.net.0.type = empty',
    `lxc.rootfs.path = dir:${path.join(ctdir, 'rootfs')}`,
    'lxc.idmap = u 0 1000000 65536',
    'lxc.idmap = g 0 1000000 65536',
    'lxc.rootfs.options = idmap=container',
    '',
  ].join('\n');
}

/** lxc-start / lxc-wait / lxc-stop / rm -rf on a private lxcpath. */
export class RawLxcDriver implements LifecycleDriver {
  readonly label = 'raw';
  readonly description = `raw liblxc: launch = tar -xf + lxc-start + lxc-wait RUNNING; start = lxc-start + lxc-wait; `
    + `stop = lxc-stop -t ${CLEAN_STOP_TIMEOUT_S} (SIGPWR to init); stop --force = lxc-stop -k; `
    + 'restart --force = lxc-stop -k + lxc-start + lxc-wait; delete --force = lxc-stop -k + rm -rf';
  private readonly pending = new Map<string, Deferred>();

  constructor(
    private readonly ctx: BenchContext,
    private readonly lxcpath: string,
    private readonly image: string,
  ) {}

  private args(name: string): string[] {
    return ['-P', this.lxcpath, '-n', name];
  }

  private async waitRunning(name: string): Promise<void> {
    await this.ctx.exec('lxc-start', this.args(name));
    await this.ctx.exec('lxc-wait', [...this.args(name), '-s', 'RUNNING', '-t', '30']);
  }

  async launch(name: string): Promise<void> {
    const ctdir = path.join(this.lxcpath, name);
    await fs.mkdir(ctdir, { mode: 0o755 });
    this.pending.set(name, this.ctx.defer(`raw container ${name}`, async () => {
      await this.ctx.exec('lxc-stop', [...this.args(name), '-k'], { allowFail: true });
      await fs.rm(ctdir, { recursive: true, force: true });
    }));
    await fs.chmod(ctdir, 0o755);
    await this.ctx.exec('tar', ['-xf', this.image, '-C', ctdir, '--numeric-owner', 'rootfs']);
    await fs.writeFile(path.join(ctdir, 'config'), rawLxcConfig(name, ctdir));
    await this.waitRunning(name);
  }

  start(name: string): Promise<void> {
    return this.waitRunning(name);
  }

  async stop(name: string): Promise<void> {
    await this.ctx.exec('lxc-stop', [...this.args(name), '-t', String(CLEAN_STOP_TIMEOUT_S)]);
  }

  async stopForce(name: string): Promise<void> {
    await this.ctx.exec('lxc-stop', [...this.args(name), '-k']);
  }

  async restartForce(name: string): Promise<void> {
    await this.stopForce(name);
    await this.waitRunning(name);
  }

  async deleteForce(name: string): Promise<void> {
    await this.stopForce(name);
    // What lxc-destroy does for a dir rootfs, without its extra process.
    await fs.rm(path.join(this.lxcpath, name), { recursive: true });
    this.pending.get(name)?.drop();
    this.pending.delete(name);
  }

  async isRunning(name: string): Promise<boolean> {
    const r = await this.ctx.exec('lxc-info', [...this.args(name), '-s'], { allowFail: true });
    return /RUNNING/.test(r.stdout);
  }

  async close(): Promise<void> {
    for (const d of this.pending.values()) await d.run();
    this.pending.clear();
  }
}
