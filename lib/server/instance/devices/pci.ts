/**
 * `pci` devices (VMs only): a raw host PCI function handed to the guest
 * through VFIO. Validation as Incus (`address` required, `firmware`); at
 * start the function must exist and the host must have an IOMMU, else a
 * 400 naming the device; the driver binds it to vfio-pci (qemu/passthrough.ts).
 */
import { badRequest } from '../../errors';
import { isTrue } from '../config-keys';
import { isBool } from '../config/validators';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, deviceError } from './options';
import { checkPassthroughHost, isPciAddress, normalisePciAddress } from './pci-sysfs';

const RULES = {
  address: isPciAddress,
  firmware: isBool,
};

/**
 * Refuses passthrough to a container (a profile's device reaches one
 * without the per-type check) and to a stateful VM, whose passed-through
 * device's state cannot be saved (Incus's check).
 */
export function checkPassthroughTarget(ctx: DeviceStartContext, what: string): void {
  if (ctx.inst.type !== 'virtual-machine') throw badRequest(`Unsupported device type "${ctx.config.type}" for containers`);
  if (isTrue(ctx.inst.expandedConfig['migration.stateful'])) throw badRequest(`${what} devices cannot be used when migration.stateful is enabled`);
}

export const pciDevice: DeviceDriver = {
  type: 'pci',
  validate(name, config) {
    checkDeviceOptions(name, config, RULES);
    if (!config.address) throw deviceError(name, 'Invalid value for "address": Invalid PCI address');
  },
  async start(ctx) {
    checkPassthroughTarget(ctx, 'PCI');
    const address = normalisePciAddress(ctx.config.address ?? '');
    try {
      checkPassthroughHost(ctx.host.sysRoot, address);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    const romBar = ctx.config.firmware ? isTrue(ctx.config.firmware) : true;
    return { pciDevices: [{ device: ctx.name, address, romBar }] };
  },
};
