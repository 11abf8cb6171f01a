/**
 * Vendor, product and class names from the hwdata databases (pci.ids,
 * usb.ids), as Incus fills them through pcidb and its usbid package.
 * Each file is read once, on first use; a host without them gets no names.
 */
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

/** pci.ids: vendor id (lowercase hex, as sysfs has it) to its name and products. */
export interface PciIds {
  vendors: Map<string, { name: string; products: Map<string, string> }>;
}

/** usb.ids: numeric vendor/product ids and interface classes. */
export interface UsbIds {
  vendors: Map<number, { name: string; products: Map<number, string> }>;
  classes: Map<number, { name: string; subclasses: Map<number, string> }>;
}

/** Where pcidb looks, in order. */
export const PCI_IDS_PATHS = ['/usr/share/hwdata/pci.ids', '/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids.gz', '/usr/share/misc/pci.ids.gz'];

/** Incus's usbid.Load: INCUS_USBIDS_PATH, else /usr/share/misc/usb.ids. */
export function usbIdsPaths(): string[] {
  return [process.env.INCUS_USBIDS_PATH || '/usr/share/misc/usb.ids'];
}

async function readFirst(paths: string[]): Promise<string | null> {
  for (const p of paths) {
    try {
      const raw = await readFile(p);
      return (p.endsWith('.gz') ? await gunzipAsync(raw) : raw).toString('utf8');
    } catch {
      // Try the next place.
    }
  }
  return null;
}

/** One `id  name` line: its tab depth, optional kind (`C`), id text and name. */
function splitLine(line: string): { depth: number; kind: string; id: string; name: string } | null {
  const sep = line.indexOf('  ');
  if (sep < 0) return null;
  let head = line.slice(0, sep);
  let depth = 0;
  while (head.startsWith('\t')) {
    depth++;
    head = head.slice(1);
  }
  const parts = head.split(' ');
  const kind = parts.length === 2 ? parts[0] : '';
  const id = parts.length === 2 ? parts[1] : parts[0];
  if (!/^[0-9a-fA-F]+$/.test(id)) return null;
  return { depth, kind, id: id.toLowerCase(), name: line.slice(sep + 2) };
}

export function parsePciIds(text: string): PciIds {
  const vendors: PciIds['vendors'] = new Map();
  let vendor: { name: string; products: Map<string, string> } | null = null;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // The device classes come after the vendors: nothing more to read.
    if (line.startsWith('C ')) break;
    const f = splitLine(line);
    if (!f) continue;
    if (f.depth === 0) {
      vendor = { name: f.name, products: new Map() };
      vendors.set(f.id, vendor);
    } else if (f.depth === 1 && vendor) {
      vendor.products.set(f.id, f.name);
    }
  }
  return { vendors };
}

export function parseUsbIds(text: string): UsbIds {
  const ids: UsbIds = { vendors: new Map(), classes: new Map() };
  let vendor: { name: string; products: Map<number, string> } | null = null;
  let cls: { name: string; subclasses: Map<number, string> } | null = null;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = splitLine(line);
    if (!f) {
      // A section of another kind (HID, LANG...) ends the current one.
      if (!line.startsWith('\t')) vendor = cls = null;
      continue;
    }
    const id = parseInt(f.id, 16);
    if (f.depth === 0) {
      vendor = cls = null;
      if (f.kind === '') {
        vendor = { name: f.name, products: new Map() };
        ids.vendors.set(id, vendor);
      } else if (f.kind === 'C') {
        cls = { name: f.name, subclasses: new Map() };
        ids.classes.set(id, cls);
      }
    } else if (f.depth === 1) {
      vendor?.products.set(id, f.name);
      cls?.subclasses.set(id, f.name);
    }
  }
  return ids;
}

/** The two databases, loaded lazily and kept. */
export class IdDatabases {
  private pci: Promise<PciIds | null> | null = null;
  private usb: Promise<UsbIds | null> | null = null;

  constructor(
    private readonly pciPaths: string[] = PCI_IDS_PATHS,
    private readonly usbPaths: string[] = usbIdsPaths(),
  ) {}

  pciIds(): Promise<PciIds | null> {
    this.pci ??= readFirst(this.pciPaths).then((t) => (t === null ? null : parsePciIds(t)));
    return this.pci;
  }

  usbIds(): Promise<UsbIds | null> {
    this.usb ??= readFirst(this.usbPaths).then((t) => (t === null ? null : parseUsbIds(t)));
    return this.usb;
  }

  /** Vendor and product names for PCI ids ('' when unknown). */
  async pciNames(vendorId: string, productId: string): Promise<{ vendor: string; product: string }> {
    const v = (await this.pciIds())?.vendors.get(vendorId.toLowerCase());
    return { vendor: v?.name ?? '', product: v?.products.get(productId.toLowerCase()) ?? '' };
  }
}
