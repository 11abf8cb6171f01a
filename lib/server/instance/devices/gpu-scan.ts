/**
 * GPUs as the host shows them, read from roots that tests point at fixture
 * trees: DRM cards from <sys>/class/drm/card* (PCI address, vendor and
 * product ids, driver, and the card/render/control nodes' major:minor),
 * NVIDIA minors from <proc>/driver/nvidia/gpus/<pci>/information, and the
 * NVIDIA control devices (<dev>/nvidiactl, nvidia-uvm, ...) whose numbers
 * come from a stat of the node.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { splitDev } from './paths';

/** A node of a card: its name under /dev (e.g. `dri/card0`) and numbers. */
export interface GpuNode {
  devPath: string;
  major: number;
  minor: number;
}

export interface GpuCard {
  /** DRM card number (the `id` option). */
  id: number;
  /** PCI address, e.g. 0000:01:00.0 (empty when not on PCI). */
  pci: string;
  vendorId: string;
  productId: string;
  driver: string;
  /** /dev/dri/cardN, renderDN, controlDN present on the host. */
  drm: GpuNode[];
  /** /dev/nvidiaN when the NVIDIA driver owns the card. */
  nvidia: GpuNode | null;
}

export interface GpuHostView {
  devRoot: string;
  sysRoot: string;
  procRoot: string;
  /** major:minor of a device node; tests supply a table. */
  deviceNumber(path: string): { major: number; minor: number } | null;
}

/** The real host, with device numbers from stat(2). */
export function realGpuHost(roots: { devRoot: string; sysRoot: string; procRoot: string }): GpuHostView {
  return {
    ...roots,
    deviceNumber(path) {
      try {
        const st = statSync(path, { bigint: true });
        return st.isCharacterDevice() ? splitDev(st.rdev) : null;
      } catch {
        return null;
      }
    },
  };
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** "226:0" to numbers. */
function parseDevNumber(text: string | null): { major: number; minor: number } | null {
  const m = text ? /^(\d+):(\d+)$/.exec(text) : null;
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** NVIDIA minors by PCI address, from the proc driver. */
function nvidiaMinors(procRoot: string): Map<string, number> {
  const out = new Map<string, number>();
  const dir = join(procRoot, 'driver', 'nvidia', 'gpus');
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const pci of entries) {
    const info = read(join(dir, pci, 'information')) ?? '';
    const m = /^Device Minor:\s*(\d+)/m.exec(info);
    if (m) out.set(pci.toLowerCase(), Number(m[1]));
  }
  return out;
}

/** Every DRM card the host has, in card order. */
export function scanGpus(host: GpuHostView): GpuCard[] {
  const drmClass = join(host.sysRoot, 'class', 'drm');
  let entries: string[] = [];
  try {
    entries = readdirSync(drmClass).filter((e) => /^card\d+$/.test(e));
  } catch {
    return [];
  }
  const minors = nvidiaMinors(host.procRoot);
  const cards: GpuCard[] = [];
  for (const entry of entries.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))) {
    const device = join(drmClass, entry, 'device');
    if (!existsSync(join(drmClass, entry, 'dev')) || !existsSync(device)) continue;
    const real = realpathSync(device);
    const pci = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(basename(real)) ? basename(real) : '';
    const drm: GpuNode[] = [];
    let drmNames: string[] = [];
    try {
      drmNames = readdirSync(join(real, 'drm'));
    } catch {
      drmNames = [entry];
    }
    for (const n of drmNames.filter((x) => /^(card|renderD|controlD)\d+$/.test(x)).sort()) {
      const num = parseDevNumber(read(join(real, 'drm', n, 'dev')) ?? read(join(drmClass, n, 'dev')));
      if (num && existsSync(join(host.devRoot, 'dri', n))) drm.push({ devPath: `dri/${n}`, ...num });
    }
    let driver = '';
    try {
      driver = basename(realpathSync(join(real, 'driver')));
    } catch {
      // No driver bound.
    }
    const minor = driver === 'nvidia' ? minors.get(pci) ?? minors.get(pci.replace(/^0000:/, '')) : undefined;
    const nvidia = minor !== undefined && existsSync(join(host.devRoot, `nvidia${minor}`)) ? { devPath: `nvidia${minor}`, major: 195, minor } : null;
    cards.push({
      id: Number(entry.slice(4)),
      pci,
      vendorId: (read(join(real, 'vendor')) ?? '').replace(/^0x/, ''),
      productId: (read(join(real, 'device')) ?? '').replace(/^0x/, ''),
      driver,
      drm,
      nvidia,
    });
  }
  return cards;
}

/** NVIDIA's shared nodes (nvidiactl, nvidia-uvm, nvidia-modeset ...), not the per-card ones. */
export function nvidiaControlNodes(host: GpuHostView): GpuNode[] {
  let names: string[] = [];
  try {
    names = readdirSync(host.devRoot);
  } catch {
    return [];
  }
  const out: GpuNode[] = [];
  for (const n of names.sort()) {
    if (!n.startsWith('nvidia') || /^nvidia\d+$/.test(n)) continue;
    const num = host.deviceNumber(join(host.devRoot, n));
    if (num) out.push({ devPath: n, ...num });
  }
  return out;
}
