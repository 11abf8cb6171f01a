/**
 * Accelerator choice for QEMU: KVM only where hardware virtualisation is
 * really usable, else TCG. Decided once per process: the host does not change
 * under a running daemon.
 *
 * KVM is usable when /dev/kvm opens read-write AND the host has a hardware
 * KVM module (kvm_intel / kvm_amd) or vmx/svm CPU flags. A host whose only
 * KVM provider is kvm_pvm (a paravirtual KVM inside a VM) is refused: there
 * `-cpu host` aborts on MSR writes and OVMF stops with a KVM internal error.
 */
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';

/** What the accelerator choice is made from (a seam for tests). */
export interface HostVirtProbe {
  /** /dev/kvm opened O_RDWR. */
  kvmDeviceUsable: boolean;
  /** Loaded modules among kvm_intel, kvm_amd, kvm_pvm. */
  modules: ReadonlySet<string>;
  /** /proc/cpuinfo lists vmx or svm. */
  cpuHasVirtFlags: boolean;
}

/** The accelerator QEMU runs with, its argument words and why it was chosen. */
export interface AcceleratorChoice {
  accel: 'kvm' | 'tcg';
  /** `-cpu` model: `host` under KVM, `max` under TCG. */
  cpu: 'host' | 'max';
  /** `-accel X -cpu Y`, ready to append to QEMU's argv. */
  args: string[];
  /** One sentence for logs and `incus info`. */
  reason: string;
}

/** Reads the host's virtualisation facts. */
export function probeHost(): HostVirtProbe {
  let kvmDeviceUsable = false;
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    kvmDeviceUsable = true;
  } catch {
    kvmDeviceUsable = false;
  }
  const modules = new Set(['kvm_intel', 'kvm_amd', 'kvm_pvm'].filter((m) => existsSync(`/sys/module/${m}`)));
  let cpuHasVirtFlags = false;
  try {
    cpuHasVirtFlags = /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    cpuHasVirtFlags = false;
  }
  return { kvmDeviceUsable, modules, cpuHasVirtFlags };
}

function choice(accel: 'kvm' | 'tcg', reason: string): AcceleratorChoice {
  const cpu = accel === 'kvm' ? 'host' : 'max';
  return { accel, cpu, args: ['-accel', accel, '-cpu', cpu], reason };
}

/** Pure decision from a probe. */
export function chooseAccelerator(probe: HostVirtProbe): AcceleratorChoice {
  const hardwareModule = probe.modules.has('kvm_intel') || probe.modules.has('kvm_amd');
  if (!probe.kvmDeviceUsable) return choice('tcg', 'KVM unavailable (/dev/kvm cannot be opened); using TCG emulation');
  if (probe.modules.has('kvm_pvm') && !hardwareModule) {
    return choice('tcg', 'KVM is provided by kvm_pvm (nested paravirtual KVM), which cannot run UEFI guests; using TCG emulation');
  }
  if (!hardwareModule && !probe.cpuHasVirtFlags) {
    return choice('tcg', 'No hardware virtualisation (no kvm_intel/kvm_amd, no vmx/svm CPU flag); using TCG emulation');
  }
  return choice('kvm', 'Hardware virtualisation available; using KVM');
}

let cached: AcceleratorChoice | undefined;

/** The accelerator for this host, probed on first use and cached for the process. */
export function hostAccelerator(): AcceleratorChoice {
  cached ??= chooseAccelerator(probeHost());
  return cached;
}
