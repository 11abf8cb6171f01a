/**
 * The container driver: renders the liblxc config, starts through the
 * native helper, and reads state for many containers in one native call.
 */
import { mkdir, rm, symlink, writeFile, lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as lxc from '../../../../native/lxc';
import type { BatchStateEntry } from '../../../../native/lxc';
import { StatusCode, StatusText } from '../../../../api/response';
import type { DriverInfo, InstanceDriver, InstanceRuntime, RuntimeState, StopOptions } from '../../interface';
import type { Idmap } from '../../idmap';
import { renderLxcConfig } from './lxc-config';

export interface LxcDriverOptions {
  /** INCUS_DIR. */
  varDir: string;
  idmap: Idmap;
  debug: boolean;
}

/** liblxc's state names mapped to the API's status codes. */
const STATUS: Record<string, number> = {
  STOPPED: StatusCode.Stopped,
  STARTING: StatusCode.Starting,
  RUNNING: StatusCode.Running,
  STOPPING: StatusCode.Stopping,
  ABORTING: StatusCode.Aborting,
  FREEZING: StatusCode.Freezing,
  FROZEN: StatusCode.Frozen,
  THAWED: StatusCode.Thawed,
};

/** The liblxc container name: projects other than default prefix it, as Incus does. */
export function lxcName(project: string, name: string): string {
  return project === 'default' ? name : `${project}_${name}`;
}

export class LxcDriver implements InstanceDriver {
  readonly info: DriverInfo;
  readonly lxcpath: string;

  constructor(private readonly opts: LxcDriverOptions) {
    this.lxcpath = join(opts.varDir, 'containers');
    this.info = { type: 'container', name: 'lxc', version: lxc.lxcVersion() };
  }

  private ref(inst: Pick<InstanceRuntime, 'project' | 'name'>): lxc.LxcRef {
    const name = lxcName(inst.project, inst.name);
    const logDir = join(this.opts.varDir, 'logs', name);
    return { name, lxcpath: this.lxcpath, configPath: join(logDir, 'lxc.conf'), logPath: join(logDir, 'lxc.log') };
  }

  async attach(inst: InstanceRuntime): Promise<void> {
    const ref = this.ref(inst);
    await mkdir(this.lxcpath, { recursive: true, mode: 0o711 });
    const link = join(this.lxcpath, ref.name);
    await unlink(link).catch(() => undefined);
    await symlink(inst.volumePath, link);
  }

  async detach(inst: Pick<InstanceRuntime, 'project' | 'name'>): Promise<void> {
    const ref = this.ref(inst);
    const link = join(this.lxcpath, ref.name);
    const st = await lstat(link).catch(() => null);
    if (st?.isSymbolicLink()) await unlink(link);
    await rm(join(this.opts.varDir, 'logs', ref.name), { recursive: true, force: true });
  }

  async start(inst: InstanceRuntime): Promise<void> {
    const ref = this.ref(inst);
    const logDir = join(this.opts.varDir, 'logs', ref.name);
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    const text = renderLxcConfig({
      inst,
      lxcName: ref.name,
      idmap: this.opts.idmap,
      logFile: ref.logPath,
      consoleLogFile: join(logDir, 'console.log'),
      debug: this.opts.debug,
    });
    await writeFile(ref.configPath, text, { mode: 0o600 });
    await lxc.start(ref);
  }

  async stop(inst: InstanceRuntime, opts: StopOptions): Promise<void> {
    await lxc.stop(this.ref(inst), opts);
  }

  async freeze(inst: InstanceRuntime): Promise<void> {
    await lxc.freeze(this.ref(inst));
  }

  async unfreeze(inst: InstanceRuntime): Promise<void> {
    await lxc.unfreeze(this.ref(inst));
  }

  async states(list: Pick<InstanceRuntime, 'project' | 'name'>[]): Promise<RuntimeState[]> {
    if (list.length === 0) return [];
    const rows = await lxc.batchState(
      this.lxcpath,
      list.map((i) => lxcName(i.project, i.name)),
    );
    return rows.map(toRuntimeState);
  }
}

function toRuntimeState(e: BatchStateEntry): RuntimeState {
  const code = STATUS[e.state] ?? StatusCode.Error;
  const n = (v: number): number => (v < 0 ? 0 : v);
  return {
    status: StatusText[code],
    statusCode: code,
    pid: e.pid,
    processes: e.processes < 0 ? -1 : e.processes,
    memoryUsage: n(e.memoryUsage),
    memoryPeak: n(e.memoryPeak),
    swapUsage: n(e.swapUsage),
    swapPeak: n(e.swapPeak),
    cpuUsage: n(e.cpuUsage),
  };
}
