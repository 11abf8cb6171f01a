/**
 * The whole of `GET /1.0/resources`: every part read concurrently, the
 * answer kept 10 seconds and shared by concurrent callers, as Incus's
 * GetResources does; what never changes (CPU socket details, the system
 * type) kept for the reader's life.
 */
import type { Resources } from '../../api/resources';
import { type CpuStatics, readCPU } from './cpu';
import { readGPU } from './gpu';
import { defaultHost, type Host } from './host';
import { readLoad } from './load';
import { readMemory } from './memory';
import { readNetwork } from './network';
import { readPCI } from './pci';
import { readSerial } from './serial';
import { readStorage } from './storage';
import { detectSystemType, readSystem } from './system';
import { readUSB } from './usb';

/** How long an answer is reused (Incus: 10s). */
export const RESOURCES_TTL_MS = 10_000;

async function part<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new Error(`Failed to retrieve ${what} information: ${(err as Error).message}`);
  }
}

export class ResourcesReader {
  private readonly cpuStatics: CpuStatics = new Map();
  private systemType: Promise<string> | null = null;
  private last: { at: number; value: Resources } | null = null;
  private pending: Promise<Resources> | null = null;

  constructor(
    private readonly host: Host = defaultHost(),
    private readonly detectType: () => Promise<string> = detectSystemType,
    private readonly now: () => number = Date.now,
  ) {}

  /** The host's resources, at most RESOURCES_TTL_MS old. */
  get(): Promise<Resources> {
    if (this.last && this.now() - this.last.at < RESOURCES_TTL_MS) return Promise.resolve(this.last.value);
    this.pending ??= this.read()
      .then((value) => {
        this.last = { at: this.now(), value };
        return value;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }

  private async read(): Promise<Resources> {
    const h = this.host;
    this.systemType ??= this.detectType();
    const [cpu, memory, gpu, network, storage, usb, pci, system, load, serial] = await Promise.all([
      part('CPU', readCPU(h, this.cpuStatics)),
      part('memory', readMemory(h)),
      part('GPU', readGPU(h)),
      part('network', readNetwork(h)),
      part('storage', readStorage(h)),
      part('USB', readUSB(h)),
      part('PCI', readPCI(h)),
      part('system', this.systemType.then((type) => readSystem(h, type))),
      part('load', readLoad(h)),
      part('serial', readSerial(h)),
    ]);
    return { cpu, memory, gpu, network, storage, usb, pci, system, load, serial };
  }
}
