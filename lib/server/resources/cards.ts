/**
 * The enumeration GPUs and network cards share (Incus's GetGPU and
 * GetNetwork): devices of a /sys/class folder first, then PCI devices of
 * the wanted class not seen yet; SR-IOV virtual functions filed under
 * their parent; the total counts cards and their VFs.
 */
import { join } from 'node:path';
import { driverOf, type Host, list, pciAddress, physicalFunction, readId, readInt, readTrim } from './host';

/** What a GPU or network card has in common. */
interface Card<C> {
  numa_node: number;
  pci_address?: string;
  sriov?: { vfs: C[] | null };
}

export interface CardSource<C extends Card<C>> {
  /** Device folders of the class (`/sys/class/drm/card0/device`) to look at first. */
  classDevices: string[];
  /** PCI class prefix of the remaining devices to add (`0x03` display, `0x02` network). */
  pciClass: string;
  /** Fills a card from its device folder. */
  fill: (devicePath: string, card: C) => Promise<void>;
  /** The card with its fields in Incus's order. */
  ordered: (card: C) => C;
}

export async function collectCards<C extends Card<C>>(host: Host, src: CardSource<C>): Promise<{ cards: C[]; total: number }> {
  const known = new Set<string>();
  const cards: C[] = [];
  const vfs = new Map<string, C[]>();
  const add = async (devicePath: string, card: C): Promise<void> => {
    await src.fill(devicePath, card);
    const parent = await physicalFunction(devicePath);
    if (parent === null) cards.push(card);
    else vfs.set(parent, [...(vfs.get(parent) ?? []), src.ordered(card)]);
  };

  for (const devicePath of src.classDevices) {
    const card = { numa_node: 0 } as C;
    const pci = await pciAddress(devicePath);
    if (pci) {
      if (known.has(pci)) continue;
      known.add(pci);
      card.pci_address = pci;
    }
    await add(devicePath, card);
  }

  const pciRoot = join(host.sys, 'bus', 'pci', 'devices');
  for (const name of await list(pciRoot)) {
    if (known.has(name)) continue;
    const cls = await readTrim(join(pciRoot, name, 'class'));
    if (cls === null || !cls.startsWith(src.pciClass)) continue;
    await add(join(pciRoot, name), { numa_node: 0, pci_address: name } as C);
  }

  let total = 0;
  for (const card of cards) {
    if (card.sriov) {
      card.sriov.vfs = vfs.get(card.pci_address ?? '') ?? null;
      total += card.sriov.vfs?.length ?? 0;
    }
    total++;
  }
  return { cards: cards.map(src.ordered), total };
}

/** The object with only the defined keys, in the order given (JSON keeps insertion order). */
export function inOrder<T extends object>(value: T, keys: (keyof T)[], skip: (k: keyof T) => boolean = () => false): T {
  const out: Partial<T> = {};
  for (const k of keys) if (value[k] !== undefined && !skip(k)) out[k] = value[k];
  return out as T;
}

/** The identity fields GPU and network cards share. */
interface Identified {
  driver?: string;
  driver_version?: string;
  vendor?: string;
  vendor_id?: string;
  product?: string;
  product_id?: string;
}

/** Vendor and product ids from the device folder, names from pci.ids (each only when known). */
export async function addPciIds(host: Host, dir: string, card: Identified): Promise<void> {
  const vendorId = await readId(join(dir, 'vendor'));
  const productId = await readId(join(dir, 'device'));
  if (vendorId) card.vendor_id = vendorId;
  if (productId) card.product_id = productId;
  const names = await host.ids.pciNames(vendorId ?? '', productId ?? '');
  if (names.vendor) card.vendor = names.vendor;
  if (names.product) card.product = names.product;
}

/** The bound driver and its version, when there is one. */
export async function addDriver(host: Host, dir: string, card: Identified): Promise<void> {
  const driver = await driverOf(dir, host);
  if (driver) {
    card.driver = driver.driver;
    card.driver_version = driver.version;
  }
}

/** SR-IOV counts of a physical function (its VFs are filed by collectCards), or undefined. */
export async function readSriov<C>(dir: string): Promise<{ current_vfs: number; maximum_vfs: number; vfs: C[] | null } | undefined> {
  const current = await readInt(join(dir, 'sriov_numvfs'));
  if (current === null) return undefined;
  return { current_vfs: current, maximum_vfs: (await readInt(join(dir, 'sriov_totalvfs'))) ?? 0, vfs: null };
}
