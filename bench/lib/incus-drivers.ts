/** Our daemon driven two ways: through lib/client (API) and through `bin/incus` (CLI). */

import path from 'node:path';
import type { BenchContext } from './case';
import type { IncusDaemon } from './incus-daemon';
import { BENCH_IMAGE_ALIAS } from './incus-daemon';
import { CLEAN_STOP_TIMEOUT_S, LifecycleDriver } from './lifecycle-driver';

/** The daemon's own view: status Running with an init PID. */
async function instanceRunning(daemon: IncusDaemon, name: string): Promise<boolean> {
  const st = await daemon.client.getInstanceState(name);
  return st.status === 'Running' && st.pid > 0;
}

/** REST calls through lib/client, each waiting for its operation. */
export class IncusApiDriver implements LifecycleDriver {
  readonly label = 'api';
  readonly description = 'incusd via lib/client, each call waiting for its operation: launch = POST /1.0/instances + PUT state start; '
    + `stop = PUT state {stop, timeout ${CLEAN_STOP_TIMEOUT_S}}; stop --force = PUT state {stop, force}; `
    + 'restart --force = PUT state {restart, force}; delete --force = PUT state {stop, force} + DELETE (what `incus delete -f` does)';

  constructor(private readonly daemon: IncusDaemon) {}

  async launch(name: string): Promise<void> {
    const c = this.daemon.client;
    await (await c.createInstance({ name, source: { type: 'image', alias: BENCH_IMAGE_ALIAS } })).wait();
    await (await c.updateInstanceState(name, { action: 'start' })).wait();
  }

  async start(name: string): Promise<void> {
    await (await this.daemon.client.updateInstanceState(name, { action: 'start' })).wait();
  }

  async stop(name: string): Promise<void> {
    await (await this.daemon.client.updateInstanceState(name, { action: 'stop', timeout: CLEAN_STOP_TIMEOUT_S })).wait();
  }

  async stopForce(name: string): Promise<void> {
    await (await this.daemon.client.updateInstanceState(name, { action: 'stop', force: true })).wait();
  }

  async restartForce(name: string): Promise<void> {
    await (await this.daemon.client.updateInstanceState(name, { action: 'restart', force: true })).wait();
  }

  async deleteForce(name: string): Promise<void> {
    await this.stopForce(name);
    await (await this.daemon.client.deleteInstance(name)).wait();
  }

  isRunning(name: string): Promise<boolean> {
    return instanceRunning(this.daemon, name);
  }

  async close(): Promise<void> {
    // The daemon belongs to the case, which stops it after both drivers.
  }
}

/** One `node bin/incus ...` process per step, as a user would type it. */
export class IncusCliDriver implements LifecycleDriver {
  readonly label = 'cli';
  readonly description = `incusd via \`node bin/incus\`: launch; start; stop --timeout ${CLEAN_STOP_TIMEOUT_S}; stop -f; restart -f; delete -f`;
  private readonly bin: string;

  constructor(private readonly ctx: BenchContext, private readonly daemon: IncusDaemon) {
    this.bin = path.join(ctx.repoRoot, 'bin', 'incus');
  }

  private async incus(...args: string[]): Promise<void> {
    await this.ctx.exec(process.execPath, [this.bin, ...args], { env: this.daemon.env });
  }

  launch(name: string): Promise<void> {
    return this.incus('launch', BENCH_IMAGE_ALIAS, name);
  }

  start(name: string): Promise<void> {
    return this.incus('start', name);
  }

  stop(name: string): Promise<void> {
    return this.incus('stop', '--timeout', String(CLEAN_STOP_TIMEOUT_S), name);
  }

  stopForce(name: string): Promise<void> {
    return this.incus('stop', '-f', name);
  }

  restartForce(name: string): Promise<void> {
    return this.incus('restart', '-f', name);
  }

  deleteForce(name: string): Promise<void> {
    return this.incus('delete', '-f', name);
  }

  isRunning(name: string): Promise<boolean> {
    return instanceRunning(this.daemon, name);
  }

  async close(): Promise<void> {
    // The daemon belongs to the case.
  }
}
