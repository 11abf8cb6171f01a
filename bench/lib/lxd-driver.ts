/**
 * The peer column: an installed LXD, driven through its `lxc` client. LXD is
 * not installed on the development host, so this driver has never run; it
 * is the seam where the LXD figures plug in.
 */

import fs from 'node:fs';
import path from 'node:path';
import { BenchContext, Unavailable } from './case';
import { CLEAN_STOP_TIMEOUT_S, LifecycleDriver } from './lifecycle-driver';

/** First executable named `name` on PATH (plus /snap/bin, where LXD usually lives). */
function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/snap/bin'].filter((d) => d !== '');
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Launches on the system's LXD with no profiles, so no NIC, on LXD_POOL (default `default`). */
export class LxdDriver implements LifecycleDriver {
  readonly label = 'lxd';
  readonly description = `LXD via its \`lxc\` client: launch --no-profiles; start; stop --timeout ${CLEAN_STOP_TIMEOUT_S}; stop -f; restart -f; delete -f`;
  private readonly alias = `bench-busybox-${process.pid}`;
  private readonly pool = process.env.LXD_POOL ?? 'default';
  private imported = false;

  private constructor(private readonly ctx: BenchContext, private readonly lxc: string) {}

  /** Finds LXD and imports the image; throws Unavailable when LXD is not installed. */
  static async open(ctx: BenchContext, image: string): Promise<LxdDriver> {
    const lxd = which('lxd');
    const lxc = which('lxc');
    if (lxd === undefined || lxc === undefined) throw new Unavailable('lxd column skipped: LXD is not installed');
    const d = new LxdDriver(ctx, lxc);
    ctx.defer('lxd bench image', () => d.close());
    await ctx.exec(lxc, ['image', 'import', image, '--alias', d.alias]);
    d.imported = true;
    return d;
  }

  private async run(...args: string[]): Promise<void> {
    await this.ctx.exec(this.lxc, args);
  }

  async launch(name: string): Promise<void> {
    this.ctx.defer(`lxd container ${name}`, async () => {
      await this.ctx.exec(this.lxc, ['delete', '-f', name], { allowFail: true });
    });
    await this.run('launch', this.alias, name, '--no-profiles', '--storage', this.pool);
  }

  start(name: string): Promise<void> {
    return this.run('start', name);
  }

  stop(name: string): Promise<void> {
    return this.run('stop', '--timeout', String(CLEAN_STOP_TIMEOUT_S), name);
  }

  stopForce(name: string): Promise<void> {
    return this.run('stop', '-f', name);
  }

  restartForce(name: string): Promise<void> {
    return this.run('restart', '-f', name);
  }

  deleteForce(name: string): Promise<void> {
    return this.run('delete', '-f', name);
  }

  async isRunning(name: string): Promise<boolean> {
    const r = await this.ctx.exec(this.lxc, ['list', name, '--columns', 's', '--format', 'csv'], { allowFail: true });
    return r.stdout.trim() === 'RUNNING';
  }

  async close(): Promise<void> {
    if (!this.imported) return;
    this.imported = false;
    await this.ctx.exec(this.lxc, ['image', 'delete', this.alias], { allowFail: true });
  }
}
