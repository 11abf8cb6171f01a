/**
 * `gpu` devices of gputype `physical` (the default). VMs get the card
 * itself through VFIO (gpu-vm.ts). Containers get every
 * matching card's /dev/dri nodes, its /dev/nvidiaN and, when any NVIDIA card
 * matched and `nvidia.runtime` is off, NVIDIA's shared control nodes, each
 * passed in as a device node (unix-node.ts) with uid/gid/mode. Cards match
 * on vendorid, productid, pci or id (the DRM card number). Other GPU types
 * (mdev, mig, sriov) are refused for now.
 */
import { isTrue } from '../config-keys';
import { oneOf } from '../config/validators';
import { type GpuHostView, nvidiaControlNodes, realGpuHost, scanGpus } from './gpu-scan';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, deviceError, isOctalMode, isUnixId, octalMode } from './options';
import { DEFAULT_NODE_MODE, type UnixNode, nodeRunConfig, plugNode, prepareNode, removeHostNodes, unplugNodes } from './unix-node';
import { type DeviceRunConfig, mergeRunConfigs } from './run-config';
import { gpuVmRunConfig } from './gpu-vm';
import { checkPassthroughTarget } from './pci';
import { normalisePciAddress } from './pci-sysfs';

const hexId = (v: string): string | null => (v === '' || /^[0-9a-fA-F]{4}$/.test(v) ? null : 'Invalid value (expected four hex digits)');
const pciAddress = (v: string): string | null =>
  v === '' || /^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/.test(v) ? null : 'Invalid PCI address';

const RULES = {
  gputype: oneOf('physical', 'mdev', 'mig', 'sriov'),
  vendorid: hexId,
  productid: hexId,
  id: (v: string) => (v === '' || /^\d+$/.test(v) ? null : 'Invalid DRM card ID'),
  pci: pciAddress,
  uid: isUnixId,
  gid: isUnixId,
  mode: isOctalMode,
};

/** A PCI address in sysfs form: lower case, with the 0000: domain. */
export const normalisePci = normalisePciAddress;

/** Keys that only mean something for a container's device nodes. */
const CONTAINER_ONLY = ['uid', 'gid', 'mode'];

/**
 * The nodes a gpu device passes in on `host`; throws when no card matches.
 * `nvidiaRuntime` (the instance's nvidia.runtime) leaves the control nodes
 * to the NVIDIA container runtime.
 */
export function gpuNodes(config: Record<string, string>, host: GpuHostView, nvidiaRuntime: boolean): UnixNode[] {
  const cards = scanGpus(host).filter(
    (c) =>
      (!config.vendorid || c.vendorId === config.vendorid.toLowerCase()) &&
      (!config.productid || c.productId === config.productid.toLowerCase()) &&
      (!config.pci || c.pci === normalisePci(config.pci)) &&
      (!config.id || String(c.id) === config.id),
  );
  if (cards.length === 0) throw new Error('Failed to detect requested GPU device');
  const owner = { mode: octalMode(config.mode, DEFAULT_NODE_MODE), uid: Number(config.uid || 0), gid: Number(config.gid || 0) };
  const nodes: UnixNode[] = [];
  const seen = new Set<string>();
  const add = (devPath: string, major: number, minor: number): void => {
    if (seen.has(devPath)) return;
    seen.add(devPath);
    nodes.push({ path: `/dev/${devPath}`, type: 'c', major, minor, ...owner });
  };
  for (const c of cards) {
    for (const n of c.drm) add(n.devPath, n.major, n.minor);
    if (c.nvidia) add(c.nvidia.devPath, c.nvidia.major, c.nvidia.minor);
  }
  if (!nvidiaRuntime && cards.some((c) => c.nvidia)) {
    for (const n of nvidiaControlNodes(host)) add(n.devPath, n.major, n.minor);
  }
  return nodes;
}

function nodesFor(ctx: DeviceStartContext): UnixNode[] {
  const host = realGpuHost(ctx.host);
  return gpuNodes(ctx.config, host, isTrue(ctx.inst.expandedConfig['nvidia.runtime']));
}

export const gpuDevice: DeviceDriver = {
  type: 'gpu',
  validate(name, config, ctx) {
    checkDeviceOptions(name, config, RULES);
    if (ctx.instanceType === 'virtual-machine') {
      for (const k of CONTAINER_ONLY) if (config[k] !== undefined) throw deviceError(name, `Unknown key "${k}"`);
    }
    if ((config.gputype ?? 'physical') !== 'physical') {
      throw deviceError(name, `Invalid value for "gputype": GPU type "${config.gputype}" is not supported yet`);
    }
    if (config.pci) {
      for (const k of ['id', 'productid', 'vendorid']) if (config[k]) throw deviceError(name, `Cannot use "${k}" when "pci" is set`);
    }
    if (config.id) {
      for (const k of ['pci', 'productid', 'vendorid']) if (config[k]) throw deviceError(name, `Cannot use "${k}" when "id" is set`);
    }
  },
  async start(ctx) {
    if (ctx.inst.type === 'virtual-machine') {
      checkPassthroughTarget(ctx, 'GPU');
      return gpuVmRunConfig(ctx.name, ctx.config, ctx.host.sysRoot);
    }
    const configs: DeviceRunConfig[] = [];
    for (const node of nodesFor(ctx)) configs.push(nodeRunConfig(await prepareNode(ctx, node), node));
    return mergeRunConfigs(configs);
  },
  stop: removeHostNodes,
  async hotplug(ctx) {
    for (const node of nodesFor(ctx)) await plugNode(ctx, node);
  },
  hotunplug: unplugNodes,
};
