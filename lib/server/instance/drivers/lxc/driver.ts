/**
 * The container driver: renders the liblxc config, starts through the
 * native helper, and reads state for many containers in one native call.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile, lstat, unlink } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import * as lxc from '../../../../native/lxc';
import type { BatchStateEntry } from '../../../../native/lxc';
import { StatusCode, StatusText } from '../../../../api/response';
import type { DriverFeatures, DriverInfo, InstanceDriver, InstanceRuntime,
  MetricsTarget, RuntimeState, StatesOptions, StopOptions } from '../../interface';
import type { InstanceFiles } from '../../files/instance-files';
import { LxcConsoles } from './console';
import { LxcExec } from './exec';
import { execOutputDir } from '../../exec/output-files';
import { openContainerFiles } from './files';
import { netnsInterfaces } from '../../../../native/netns';
import { renderLxcConfig } from './lxc-config';
import { bootRelative } from './start-time';
import { CPU_ALLOCATION_FILES, allocatedTime } from './cpu-allocation';
import { lxcMetrics } from './metrics';
import { cgroupFilesFor } from '../../../metrics/cgroup-stats';
import type { HostFacts } from '../../../metrics/instance-metrics';
import type { MetricText } from '../../../metrics/openmetrics';
import { isLxcfsMount, lxcfsMountEntries } from './lxcfs';
import { isTrue } from '../../config-keys';
import { seccompProfile } from '../../seccomp';
import { type HostCgroups, detectHostCgroups } from '../../limits/host-cgroups';
import { type CgroupSetting, cgroupSettings } from '../../limits/cgroup-limits';
import { CpuPinning } from '../../limits/cpu-pinning';
import { parseCpuSet } from '../../config/units';
import type { DevicesMap } from '../../../../api/instance';
import { DeviceRunner } from '../../devices/runner';
import { SourceWatch } from '../../devices/source-watch';
import { DeviceMonitors } from '../../devices/device-monitors';
import { detectDeviceHost } from '../../devices/host';
import type { DeviceHost } from '../../devices/interface';
import { deviceLxcLines } from './device-lines';
import { claimVolumeDir, releaseVolumeDir } from './volume-owner';
import { childPath } from '../../../names';
import { instanceDirName } from '../../dir-name';

export interface LxcDriverOptions {
  /** INCUS_DIR. */
  varDir: string;
  debug: boolean;
  /** Root of the cgroup mounts (tests may point it elsewhere). */
  cgroupRoot?: string;
  /** Where lxcfs is mounted when the host runs it (default /var/lib/lxcfs). */
  lxcfsDir?: string;
}

/** The CPUs this host offers containers. */
function hostCpus(): number[] {
  for (const p of ['/sys/fs/cgroup/cpuset/cpuset.effective_cpus', '/sys/fs/cgroup/cpuset.cpus.effective', '/sys/devices/system/cpu/online']) {
    try {
      const set = parseCpuSet(readFileSync(p, 'utf8').trim());
      if (set && set.length > 0) return set;
    } catch {
      // Try the next source.
    }
  }
  return [0];
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

/** What containers can do (DriverInfo.features). */
const CONTAINER_FEATURES: DriverFeatures = {
  liveConfig: ['limits.'],
  hotplugDevices: ['disk', 'nic', 'unix-char', 'unix-block', 'gpu', 'tpm', 'proxy', 'none'],
  devices: ['disk', 'nic', 'unix-char', 'unix-block', 'gpu', 'tpm', 'proxy', 'none'],
  stateful: true,
  nesting: true,
  consoles: ['console'],
  idmap: true,
};

/** The liblxc container name: the instance's project-prefixed name. */
export const lxcName = instanceDirName;

export class LxcDriver implements InstanceDriver {
  readonly info: DriverInfo;
  readonly lxcpath: string;
  readonly cgroups: HostCgroups;
  /** What a metrics scrape reads of each container (see lxcMetrics). */
  private metricsFiles: string[] | undefined;
  private readonly pinning = new CpuPinning(hostCpus());
  /** Device hooks (devices/runner.ts): run configuration, helpers, hot-plug. */
  readonly devices: DeviceRunner;
  private readonly deviceHost: DeviceHost;
  readonly console: LxcConsoles;

  constructor(private readonly opts: LxcDriverOptions) {
    this.lxcpath = join(opts.varDir, 'containers');
    this.info = { type: 'container', name: 'lxc', version: lxc.lxcVersion(), features: CONTAINER_FEATURES };
    this.console = new LxcConsoles(opts.varDir);
    this.cgroups = detectHostCgroups(opts.cgroupRoot);
    this.deviceHost = detectDeviceHost(opts.cgroupRoot);
    this.devices = new DeviceRunner({
      varDir: opts.varDir,
      host: this.deviceHost,
      setCgroup: (name, key, value) => lxc.setCgroupItem({ name, lxcpath: this.lxcpath }, key, value),
      sourceWatch: new SourceWatch(),
      monitors: new DeviceMonitors(),
    });
  }

  private settings(inst: InstanceRuntime): CgroupSetting[] {
    return cgroupSettings(inst.expandedConfig, { cgroups: this.cgroups, memTotal: totalmem() });
  }

  private ref(inst: Pick<InstanceRuntime, 'project' | 'name'>): lxc.LxcRef {
    const name = lxcName(inst.project, inst.name);
    // Links, logs and policies are named after the instance: never anything but a child of their folder.
    const logDir = childPath(join(this.opts.varDir, 'logs'), name);
    return { name, lxcpath: this.lxcpath, configPath: join(logDir, 'lxc.conf'), logPath: join(logDir, 'lxc.log') };
  }

  async attach(inst: InstanceRuntime): Promise<void> {
    const ref = this.ref(inst);
    await mkdir(this.lxcpath, { recursive: true, mode: 0o711 });
    const link = childPath(this.lxcpath, ref.name);
    await unlink(link).catch(() => undefined);
    await symlink(inst.volumePath, link);
  }

  async detach(inst: Pick<InstanceRuntime, 'project' | 'name'>): Promise<void> {
    const ref = this.ref(inst);
    const link = childPath(this.lxcpath, ref.name);
    const st = await lstat(link).catch(() => null);
    if (st?.isSymbolicLink()) await unlink(link);
    await rm(childPath(join(this.opts.varDir, 'logs'), ref.name), { recursive: true, force: true });
    await rm(childPath(join(this.opts.varDir, 'security', 'seccomp'), ref.name), { force: true });
    // Devices: leftovers of a container that stopped on its own.
    await this.devices.sweep(ref.name);
  }

  async start(inst: InstanceRuntime): Promise<void> {
    const ref = this.ref(inst);
    const logDir = childPath(join(this.opts.varDir, 'logs'), ref.name);
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    const policy = seccompProfile(inst.expandedConfig, isTrue(inst.expandedConfig['security.privileged']));
    let policyPath: string | null = null;
    if (policy) {
      const dir = join(this.opts.varDir, 'security', 'seccomp');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      policyPath = childPath(dir, ref.name);
      await writeFile(policyPath, policy, { mode: 0o600 });
    }
    // Devices: host-side preparation and what they need, as liblxc lines (undone on failure).
    const deviceLines = deviceLxcLines(await this.devices.startConfig(inst, ref.name), this.deviceHost.devicesCgroup);
    const key = `${inst.project}/${inst.name}`;
    const text = renderLxcConfig({
      inst,
      logFile: ref.logPath,
      consoleLogFile: join(logDir, 'console.log'),
      debug: this.opts.debug,
      cgroup: this.settings(inst),
      cpuset: this.pinning.assign(key, inst.expandedConfig['limits.cpu']),
      cpusetVersion: this.cgroups.version('cpuset'),
      seccompProfile: policyPath,
      extra: [...this.lxcfsLines(), ...deviceLines],
      guestApiDir: join(this.opts.varDir, 'guestapi'),
    });
    let pid: number;
    try {
      await claimVolumeDir(inst);
      await writeFile(ref.configPath, text, { mode: 0o600 });
      pid = await lxc.start(ref);
    } catch (err) {
      this.pinning.release(key);
      await this.devices.stopped(inst, ref.name);
      throw err;
    }
    // Devices: helpers that need the running container (proxy relays).
    try {
      await this.devices.postStart(inst, ref.name, pid);
    } catch (err) {
      await lxc.stop(ref, { force: true, timeoutSec: 0 }).catch(() => undefined);
      this.pinning.release(key);
      await this.devices.stopped(inst, ref.name);
      throw err;
    }
  }

  /** Devices: hot-plugs/unplugs what differs from `before` in the running container. */
  async updateDevices(inst: InstanceRuntime, before: DevicesMap): Promise<void> {
    const ref = this.ref(inst);
    const { pid } = await lxc.state(ref);
    if (pid <= 0) return;
    await this.devices.apply(inst, ref.name, pid, before);
  }

  /** Devices: after a daemon restart, re-adopts or restarts the helpers of a running container. */
  async resumeDevices(inst: InstanceRuntime): Promise<void> {
    const ref = this.ref(inst);
    const { pid } = await lxc.state(ref);
    if (pid > 0) await this.devices.resume(inst, ref.name, pid);
  }

  private lxcfsLines(): string[] {
    const dir = this.opts.lxcfsDir ?? '/var/lib/lxcfs';
    return isLxcfsMount(dir) ? lxcfsMountEntries(dir) : [];
  }

  async update(inst: InstanceRuntime, changedKeys: string[]): Promise<void> {
    const ref = this.ref(inst);
    if (changedKeys.some((k) => k.startsWith('limits.') && k !== 'limits.cpu')) {
      for (const s of this.settings(inst)) await lxc.setCgroupItem(ref, s.key, s.value);
    }
    if (changedKeys.includes('limits.cpu') && this.cgroups.version('cpuset') !== 0) {
      const set = this.pinning.assign(`${inst.project}/${inst.name}`, inst.expandedConfig['limits.cpu']);
      await lxc.setCgroupItem(ref, 'cpuset.cpus', set ?? this.pinning.all());
    }
  }

  async stop(inst: InstanceRuntime, opts: StopOptions): Promise<void> {
    const ref = this.ref(inst);
    if (!(await lxc.stop(ref, opts))) {
      const [st] = await this.states([inst]);
      throw new Error(`Failed shutting down instance, status is "${st.status}"`);
    }
    this.pinning.release(`${inst.project}/${inst.name}`);
    await this.devices.stopped(inst, ref.name);
    await releaseVolumeDir(inst.volumePath);
  }

  async freeze(inst: InstanceRuntime): Promise<void> {
    await lxc.freeze(this.ref(inst));
  }

  async unfreeze(inst: InstanceRuntime): Promise<void> {
    await lxc.unfreeze(this.ref(inst));
  }

  async exec(inst: InstanceRuntime, st: RuntimeState): Promise<LxcExec> {
    const ref = this.ref(inst);
    return new LxcExec({
      project: inst.project,
      instance: inst.name,
      lxcName: ref.name,
      lxcpath: this.lxcpath,
      configPath: ref.configPath,
      outputDir: execOutputDir(inst.volumePath),
      initPid: st.pid,
    });
  }

  openFiles(inst: InstanceRuntime, st: RuntimeState): Promise<InstanceFiles> {
    return openContainerFiles(inst, st);
  }

  async states(list: Pick<InstanceRuntime, 'project' | 'name'>[], opts: StatesOptions = {}): Promise<RuntimeState[]> {
    if (list.length === 0) return [];
    const rows = await lxc.batchState(
      this.lxcpath,
      list.map((i) => lxcName(i.project, i.name)),
      opts.cpu ? CPU_ALLOCATION_FILES : undefined,
    );
    const out = rows.map(toRuntimeState);
    if (opts.cpu) {
      for (const [i, r] of rows.entries()) if (r.pid > 0 && r.files) out[i]!.cpuAllocatedTime = allocatedTime(r.files);
    }
    if (opts.network) {
      // One helper run reads the interfaces of every running container.
      const ifaces = await netnsInterfaces(out.filter((st) => st.pid > 0).map((st) => st.pid));
      for (const st of out) {
        const found = st.pid > 0 ? ifaces.get(st.pid) : undefined;
        if (found) st.network = Object.fromEntries(Object.entries(found).map(([n, i]) => [n, { ...i, host_name: '' }]));
      }
    }
    return out;
  }

  metrics(list: MetricsTarget[], host: HostFacts, out: (t: MetricsTarget) => MetricText): Promise<void> {
    this.metricsFiles ??= [...cgroupFilesFor((c) => this.cgroups.version(c)), 'proc/net/dev'];
    return lxcMetrics({ lxcpath: this.lxcpath, varDir: this.opts.varDir, files: this.metricsFiles }, list, host, out);
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
    startedAt: e.pid > 0 ? bootRelative(e.startTicks) : undefined,
  };
}
