/**
 * The virtual-machine driver: one QEMU process per running VM, started
 * daemonized so that it outlives incusd and found again by its pidfile and
 * QMP socket. Devices' run configuration becomes QEMU devices (mounts:
 * virtiofs shares served by virtiofsd, 9p when there is none; NICs: taps);
 * the root disk is the VM volume's raw block file.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StatusCode, StatusText } from '../../../../api/response';
import { StatusError, badRequest } from '../../../errors';
import { childPath } from '../../../names';
import { instanceDirName } from '../../dir-name';
import { DeviceRunner } from '../../devices/runner';
import type { DevicesMap } from '../../../../api/instance';
import type { InstanceStateNetwork } from '../../../../api/instance-state';
import { nicHostNames } from '../../devices/nic-common';
import { detectDeviceHost } from '../../devices/host';
import type { InstanceExec } from '../../exec/instance-exec';
import { execOutputDir } from '../../exec/output-files';
import type { InstanceFiles } from '../../files/instance-files';
import type { DriverFeatures, DriverInfo, InstanceDriver, InstanceRuntime, RuntimeState, StatesOptions, StopOptions } from '../../interface';
import { type AcceleratorChoice, hostAccelerator } from './accelerator';
import { QemuConsoles } from './console';
import { firmwareUsage, prepareFirmware } from './firmware';
import { type QemuPaths, qemuPaths } from './paths';
import { type QemuProcess, findQemu, pinVcpus, startQemu } from './process';
import { buildQemuConfig } from './qemu-config';
import { bindVfio, passthroughStateFile, qemuPciDevices, qemuUsbDevices, releaseVfio } from './passthrough';
import type { QemuNic, QemuShare } from './qemu-spec';
import type { MountRequest } from '../../devices/run-config';
import { type PluggedDevice, VM_HOTPLUG_TYPES, VmPlugger, pluggedAdopted, pluggedAtStart, qemuDriveOf } from './hotplug';
import { closeTapFds, createTap, removeTaps } from './taps';
import { AgentClient, AgentError } from './agent-client';
import { agentSecret, prepareAgentConfig } from './agent-config';
import { AgentExecTarget } from './agent-exec';
import { AgentFileSession } from './agent-files';
import type { GuestState } from './agent-protocol';
import { vmCpus, vmMemory } from './vm-limits';
import { MOUNT_TAG_9P_MAX, MOUNT_TAG_MAX, findVirtiofsd, mountTagName, startVirtiofsd, stopVirtiofsds, virtiofsSocketFits } from './virtiofsd';

/** What VMs can do (DriverInfo.features). */
const VM_FEATURES: DriverFeatures = {
  liveConfig: [],
  hotplugDevices: [...VM_HOTPLUG_TYPES],
  devices: ['disk', 'nic', 'none', 'gpu', 'pci', 'usb'],
  stateful: false,
  nesting: false,
  consoles: ['console', 'vga'],
  idmap: false,
};

/** Incus's answer while the guest agent does not answer. */
const NO_AGENT = "VM agent isn't currently running";
/** How long a stop leaves the guest alone with the ACPI power button before asking its agent too. */
const ACPI_ALONE_MS = 5000;
/** How long exec waits for the agent before answering NO_AGENT. */
const AGENT_WAIT_MS = 1000;

export interface QemuDriverOptions {
  /** INCUS_DIR. */
  varDir: string;
  /** QEMU's version, from `qemu-system-x86_64 --version`. */
  version: string;
  /** Told once when VMs run under emulation (TCG), with the reason. */
  warn?(message: string): void;
}

/** What a running VM's driver keeps: its QEMU and what to undo when it ends. */
interface RunningVm {
  proc: QemuProcess;
  inst: InstanceRuntime | null;
  nics: QemuNic[];
  /** Its files (virtiofsd's pidfiles and sockets are in its run directory). */
  paths: QemuPaths;
  /** What each device put into the VM (hot-unplug); for a VM found again, made at the first device change. */
  plugged?: Map<string, PluggedDevice>;
  /** Settles once the devices are cleaned up after QEMU's exit. */
  cleaned?: Promise<void>;
}

export class QemuDriver implements InstanceDriver {
  readonly info: DriverInfo;
  readonly console: QemuConsoles;
  private readonly devices: DeviceRunner;
  private readonly vms = new Map<string, RunningVm>();
  private readonly finding = new Map<string, Promise<QemuProcess | null>>();
  /** Agent connections by VM (being made, or made). */
  private readonly agents = new Map<string, Promise<AgentClient>>();
  /** The agent connections made, for callers that must not wait (listings). */
  private readonly connected = new Map<string, AgentClient>();
  private accel: AcceleratorChoice | null = null;

  constructor(private readonly opts: QemuDriverOptions) {
    this.info = { type: 'virtual-machine', name: 'qemu', version: opts.version, features: VM_FEATURES };
    this.console = new QemuConsoles({ paths: (i) => this.paths(i), running: (i) => this.running(i) });
    this.devices = new DeviceRunner({
      varDir: opts.varDir,
      host: detectDeviceHost(),
      setCgroup: async () => {
        throw badRequest('Device cgroups do not apply to virtual machines');
      },
    });
  }

  private key(inst: { project: string; name: string }): string {
    return `${inst.project}/${inst.name}`;
  }

  /** The VM's files: runtime files and logs in logs/<name>/ (as Incus keeps them), NVRAM in its config volume. */
  paths(inst: { project: string; name: string; volumePath?: string }): QemuPaths {
    const logDir = childPath(join(this.opts.varDir, 'logs'), instanceDirName(inst.project, inst.name));
    return qemuPaths({ runDir: logDir, logDir, configDir: inst.volumePath ?? logDir });
  }

  /** The running QEMU of a VM, found again after a daemon restart; null when stopped. */
  async running(inst: { project: string; name: string }): Promise<QemuProcess | null> {
    const key = this.key(inst);
    const known = this.vms.get(key);
    if (known?.proc.running) return known.proc;
    let finding = this.finding.get(key);
    if (!finding) {
      finding = findQemu(this.paths(inst)).finally(() => this.finding.delete(key));
      this.finding.set(key, finding);
    }
    const proc = await finding;
    if (proc && !this.vms.get(key)?.proc.running) this.track(key, { proc, inst: null, nics: [], paths: this.paths(inst) });
    return proc;
  }

  private track(key: string, vm: RunningVm): void {
    this.vms.set(key, vm);
    // A guest that powers itself off: its devices are cleaned up all the same.
    void vm.proc.exited.then(() => this.cleanup(key, vm));
  }

  private cleanup(key: string, vm: RunningVm): Promise<void> {
    vm.cleaned ??= (async () => {
      if (this.vms.get(key) === vm) this.vms.delete(key);
      void this.agents.get(key)?.then((c) => c.close(), () => undefined);
      this.agents.delete(key);
      this.connected.delete(key);
      await removeTaps(vm.nics);
      await stopVirtiofsds(vm.paths);
      await releaseVfio(passthroughStateFile(vm.paths.runDir));
      if (vm.inst) await this.devices.stopped(vm.inst, instanceDirName(vm.inst.project, vm.inst.name));
    })();
    return vm.cleaned;
  }

  private accelerator(): AcceleratorChoice {
    if (!this.accel) {
      this.accel = hostAccelerator();
      if (this.accel.accel === 'tcg') this.opts.warn?.(`Virtual machines run under emulation (TCG): ${this.accel.reason}`);
    }
    return this.accel;
  }

  async attach(): Promise<void> {
    // Nothing to link: QEMU is pointed at the volume's files at start.
  }

  async detach(inst: Pick<InstanceRuntime, 'project' | 'name'>): Promise<void> {
    const dirName = instanceDirName(inst.project, inst.name);
    await rm(childPath(join(this.opts.varDir, 'logs'), dirName), { recursive: true, force: true });
    await this.devices.sweep(dirName);
  }

  async start(inst: InstanceRuntime): Promise<void> {
    if (!inst.rootDisk) throw new StatusError(500, `Instance "${inst.name}" has no root disk`);
    const key = this.key(inst);
    if (await this.running(inst)) throw badRequest('The instance is already running');
    const dirName = instanceDirName(inst.project, inst.name);
    const paths = this.paths(inst);
    const config = inst.expandedConfig;
    const { cpus, pinned } = vmCpus(config);
    const memoryBytes = vmMemory(config);
    const firmware = await prepareFirmware(inst.volumePath, firmwareUsage(config), { edk2Path: process.env.INCUS_EDK2_PATH || undefined });

    const needs = await this.devices.startConfig(inst, dirName);
    const nics: QemuNic[] = [];
    try {
      // PCI functions go to vfio-pci first: a host that cannot must fail before anything else is made.
      await bindVfio(needs.pciDevices, passthroughStateFile(paths.runDir));
      const shares = await this.shares(needs.mounts, paths);
      // The agent's config share (Incus's "config"), which the guest's boot hook looks for.
      shares.push({ id: 'config', tag: 'config', protocol: '9p', path: await prepareAgentConfig(inst.volumePath), readonly: true });
      for (const n of needs.nics) nics.push(await createTap(n, n.name, paths.runDir));
      const launch = buildQemuConfig({
        name: inst.name,
        uuid: config['volatile.uuid'] ?? '00000000-0000-0000-0000-000000000000',
        cpus,
        pinnedHostCpus: pinned,
        memoryBytes,
        accel: this.accelerator(),
        firmware: { code: firmware.code, nvram: firmware.nvram },
        paths,
        drives: [{ id: 'root', file: inst.rootDisk, format: 'raw', bus: 'virtio-scsi', bootIndex: 0 }, ...needs.drives.map(qemuDriveOf)],
        nics,
        shares,
        pciDevices: qemuPciDevices(needs.pciDevices),
        usbDevices: qemuUsbDevices(needs.usbDevices),
        // A display and SPICE on qemu.spice, for `incus console --type vga`.
        spice: true,
        rawQemu: config['raw.qemu'] || undefined,
        rawQemuConf: config['raw.qemu.conf'] || undefined,
      });
      // QEMU holds its macvtap descriptors once started (or failed): incusd's copies go.
      const proc = await startQemu({ launch, paths }).finally(() => closeTapFds(nics));
      const vm: RunningVm = { proc, inst, nics, paths, plugged: pluggedAtStart(needs, nics) };
      this.track(key, vm);
      try {
        if (pinned) await pinVcpus((await proc.figures()).vcpus, pinned);
        await this.devices.postStart(inst, dirName, proc.pid);
      } catch (err) {
        await proc.kill();
        await this.cleanup(key, vm);
        throw err;
      }
    } catch (err) {
      if (!this.vms.has(key)) {
        await closeTapFds(nics);
        await removeTaps(nics);
        await stopVirtiofsds(paths);
        await releaseVfio(passthroughStateFile(paths.runDir));
        await this.devices.stopped(inst, dirName);
      }
      throw err instanceof StatusError ? err : new StatusError(500, (err as Error).message);
    }
  }

  /**
   * Host-path shares, tagged after their device as Incus tags them
   * (`incus_<device>`): virtiofs through a virtiofsd per share when the
   * host has one, else 9p (QEMU serves it). Read-only shares stay on 9p:
   * virtiofsd has no read-only mode on every version.
   */
  private async shares(mounts: readonly MountRequest[], paths: QemuPaths): Promise<QemuShare[]> {
    const virtiofsd = findVirtiofsd();
    const out: QemuShare[] = [];
    for (const [i, m] of mounts.entries()) {
      const device = m.device ?? `share${i}`;
      const id = `share${i}`;
      if (virtiofsd && m.kind === 'dir' && !m.readonly && virtiofsSocketFits(paths, device)) {
        const socket = await startVirtiofsd(virtiofsd, paths, device, m.source);
        out.push({ id, tag: mountTagName(device, MOUNT_TAG_MAX), protocol: 'virtiofs', socket, readonly: false });
      } else {
        out.push({ id, tag: mountTagName(device, MOUNT_TAG_9P_MAX), protocol: '9p', path: m.source, readonly: m.readonly });
      }
    }
    return out;
  }

  async stop(inst: InstanceRuntime, opts: StopOptions): Promise<void> {
    const proc = await this.running(inst);
    if (!proc) return;
    const vm = this.vms.get(this.key(inst));
    // A VM found again after a daemon restart: its taps are named after its NIC devices.
    if (vm && !vm.inst) {
      vm.inst = inst;
      vm.nics = Object.values(nicHostNames(inst)).map((tap) => ({ id: tap, tap, mac: '' }));
    }
    if (opts.force) {
      await proc.kill();
    } else {
      await this.shutdown(inst, proc, opts.timeoutSec < 0 ? 2 ** 31 - 1 : opts.timeoutSec * 1000);
    }
    if (vm) {
      await this.cleanup(this.key(inst), vm);
    } else {
      await stopVirtiofsds(this.paths(inst));
      await releaseVfio(passthroughStateFile(this.paths(inst).runDir));
      await this.devices.stopped(inst, instanceDirName(inst.project, inst.name));
    }
  }

  /**
   * A clean stop within timeoutMs: ACPI power-down; a guest that has not
   * gone after ACPI_ALONE_MS (or half the timeout) is also asked through
   * its agent, for guests that ignore the power button; then `quit` once
   * the timeout has passed.
   */
  private async shutdown(inst: InstanceRuntime, proc: QemuProcess, timeoutMs: number): Promise<void> {
    const acpiAlone = Math.min(ACPI_ALONE_MS, timeoutMs / 2);
    if (timeoutMs > 0 && !(await proc.shutdown(acpiAlone))) {
      const agent = await this.agent(inst).catch(() => null);
      if (agent) await agent.shutdown().catch(() => undefined);
    }
    await proc.stop(Math.max(0, timeoutMs - acpiAlone));
  }

  async freeze(inst: InstanceRuntime): Promise<void> {
    const proc = await this.running(inst);
    if (!proc) throw badRequest('The instance is not running');
    await proc.pause();
  }

  async unfreeze(inst: InstanceRuntime): Promise<void> {
    const proc = await this.running(inst);
    if (!proc) throw badRequest('The instance is not running');
    await proc.resume();
  }

  async update(): Promise<void> {
    // No live limits yet: changed keys apply at the next start.
  }

  /** Hot-plug/unplug over QMP: the devices' run configuration plugged as at start (hotplug.ts); all undone on a failure. */
  async updateDevices(inst: InstanceRuntime, before: DevicesMap): Promise<void> {
    const proc = await this.running(inst);
    const vm = this.vms.get(this.key(inst));
    if (!proc || !vm) return;
    vm.plugged ??= await pluggedAdopted(proc.qmp, { ...inst, expandedDevices: before });
    const plugger = new VmPlugger({ qmp: proc.qmp, nics: vm.nics, plugged: vm.plugged, runDir: vm.paths.runDir });
    await this.devices.apply(inst, instanceDirName(inst.project, inst.name), proc.pid, before, plugger);
  }

  async states(list: Pick<InstanceRuntime, 'project' | 'name'>[], opts: StatesOptions = {}): Promise<RuntimeState[]> {
    return Promise.all(list.map((i) => this.state(i, opts.network === true)));
  }

  private async state(inst: Pick<InstanceRuntime, 'project' | 'name'>, network: boolean): Promise<RuntimeState> {
    const proc = await this.running(inst).catch(() => null);
    if (!proc) return stateOf(StatusCode.Stopped, -1);
    try {
      const [status, figures, guest] = await Promise.all([proc.status(), proc.figures(), network ? this.guestState(inst) : undefined]);
      const code = status.status === 'paused' ? StatusCode.Frozen : StatusCode.Running;
      const st: RuntimeState = {
        ...stateOf(code, proc.pid),
        memoryUsage: figures.memoryUsageBytes,
        cpuUsage: figures.cpuTimeNs,
        processes: -1,
        accelerator: this.accelerator().accel,
      };
      // What the guest itself says, when its agent is up (as Incus: memory as the guest sees it).
      if (guest) {
        st.network = guestInterfaces(guest);
        if (guest.processes >= 0) st.processes = guest.processes;
        if (guest.memory.total > 0 && guest.memory.available >= 0) {
          st.memoryTotal = guest.memory.total;
          st.memoryUsage = guest.memory.total - guest.memory.available;
        }
        if (guest.disk.root) st.disk = { root: guest.disk.root };
      }
      return st;
    } catch {
      // Exiting right now, or the monitor is busy: running as far as we can tell.
      return proc.running ? stateOf(StatusCode.Running, proc.pid) : stateOf(StatusCode.Stopped, -1);
    }
  }

  /**
   * The guest's state from its agent, when one is connected. Never
   * waits for an agent that is not up: a connection is started in the
   * background instead, and a later listing has the addresses.
   */
  private async guestState(inst: Pick<InstanceRuntime, 'project' | 'name'>): Promise<GuestState | undefined> {
    const key = this.key(inst);
    const client = this.connected.get(key);
    if (!client?.isOpen) {
      const rt = this.vms.get(key)?.inst;
      if (rt && !this.agents.has(key)) void this.agent(rt).catch(() => undefined);
      return undefined;
    }
    const state = await Promise.race([client.state(), new Promise<null>((r) => setTimeout(() => r(null), AGENT_WAIT_MS).unref())]).catch(() => null);
    return state ?? undefined;
  }

  /** After a daemon restart, for a VM still running: what it runs with (its taps, its agent's secret). */
  async resumeDevices(inst: InstanceRuntime): Promise<void> {
    if (!(await this.running(inst))) return;
    const vm = this.vms.get(this.key(inst));
    if (vm && !vm.inst) {
      vm.inst = inst;
      vm.nics = Object.values(nicHostNames(inst)).map((tap) => ({ id: tap, tap, mac: '' }));
    }
  }

  async exec(inst: InstanceRuntime): Promise<InstanceExec> {
    const client = await this.agent(inst);
    return new AgentExecTarget(inst.project, inst.name, execOutputDir(inst.volumePath), client);
  }

  /**
   * The VM's agent connection, one per VM (QEMU's port takes one client,
   * and a new connection ends the old one's commands). Not answering within
   * a second: Incus's 400 "VM agent isn't currently running".
   */
  private async agent(inst: InstanceRuntime): Promise<AgentClient> {
    const key = this.key(inst);
    const cached = this.agents.get(key);
    if (cached) {
      const client = await cached.catch(() => null);
      if (client?.isOpen) return client;
      if (this.agents.get(key) === cached) this.agents.delete(key);
    }
    const pending = (async () => {
      const secret = await agentSecret(inst.volumePath);
      return AgentClient.connect(this.paths(inst).agent, secret, { timeoutMs: AGENT_WAIT_MS }).catch((err: Error) => {
        throw err instanceof AgentError ? new StatusError(err.code, err.message) : badRequest(NO_AGENT);
      });
    })();
    this.agents.set(key, pending);
    pending.then(
      (client) => this.connected.set(key, client),
      () => {
        if (this.agents.get(key) === pending) this.agents.delete(key);
      },
    );
    return pending;
  }

  /** Files through the guest agent: a VM's disk is not read from the host (Incus does the same). */
  async openFiles(inst: InstanceRuntime, st: RuntimeState): Promise<InstanceFiles> {
    // Incus's words: VMs, unlike containers, need the running agent for file access.
    if (st.statusCode !== StatusCode.Running) throw badRequest('Instance is not running');
    return AgentFileSession.open(await this.agent(inst), inst.name);
  }

  /** Daemon shutdown: lets go of every QEMU (they keep running). */
  release(): void {
    for (const vm of this.vms.values()) vm.proc.detach();
    for (const a of this.agents.values()) void a.then((c) => c.close(), () => undefined);
  }
}

/** The guest's interfaces in the API's shape. */
function guestInterfaces(g: GuestState): Record<string, InstanceStateNetwork> {
  return Object.fromEntries(
    Object.entries(g.network).map(([name, i]) => [name, { addresses: i.addresses, counters: {}, hwaddr: i.hwaddr, host_name: '', mtu: 0, state: i.state, type: i.type }]),
  );
}

function stateOf(code: number, pid: number): RuntimeState {
  return {
    status: StatusText[code],
    statusCode: code,
    pid,
    processes: 0,
    memoryUsage: 0,
    memoryPeak: 0,
    swapUsage: 0,
    swapPeak: 0,
    cpuUsage: 0,
  };
}
