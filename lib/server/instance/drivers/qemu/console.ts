/**
 * A VM's serial console as the instance layer sees it: attach moves QEMU's
 * console chardev from its ring buffer onto a socket (one client at a
 * time) and bridges it; the log is the ring buffer drained into
 * logs/<instance>/console.log.
 */
import { connect, type Socket } from 'node:net';
import { readFile, truncate } from 'node:fs/promises';
import { StatusError } from '../../../errors';
import type { ConsoleStream, InstanceConsole } from '../../console-session';
import type { QemuPaths } from './paths';
import type { QemuProcess } from './process';

/** What the console needs from the driver: the VM's files and its running QEMU. */
export interface VmLookup {
  paths(inst: { project: string; name: string }): QemuPaths;
  running(inst: { project: string; name: string }): Promise<QemuProcess | null>;
}

function connectTo(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export class QemuConsoles implements InstanceConsole {
  constructor(private readonly vms: VmLookup) {}

  async attach(inst: { project: string; name: string }): Promise<ConsoleStream> {
    const proc = await this.vms.running(inst);
    if (!proc) throw new StatusError(400, 'Instance is not running');
    const path = await proc.attachConsole();
    let socket: Socket;
    try {
      socket = await connectTo(path);
    } catch (err) {
      await proc.detachConsole().catch(() => undefined);
      throw err;
    }
    let failure: Error | null = null;
    socket.on('error', (err) => (failure = err));
    const done = new Promise<Error | null>((resolve) => socket.once('close', () => resolve(failure)));
    let closed = false;
    return {
      stream: socket,
      done,
      resize: () => undefined, // A serial line has no window size.
      close: () => {
        if (closed) return;
        closed = true;
        socket.destroy();
        if (proc.running) void proc.detachConsole().catch(() => undefined);
      },
    };
  }

  async openVga(inst: { project: string; name: string }): Promise<Socket> {
    if (!(await this.vms.running(inst))) throw new StatusError(400, 'Instance is not running');
    return connectTo(this.vms.paths(inst).spice);
  }

  async readLog(inst: { project: string; name: string }, running: boolean): Promise<Buffer> {
    const proc = running ? await this.vms.running(inst) : null;
    if (proc) return Buffer.from(await proc.consoleLog(), 'utf8');
    return readFile(this.vms.paths(inst).consoleLog).catch(() => Buffer.alloc(0));
  }

  async clearLog(inst: { project: string; name: string }, running: boolean): Promise<void> {
    const proc = running ? await this.vms.running(inst) : null;
    // Drain what the ring buffer holds first, so the cleared log stays clear.
    if (proc) await proc.consoleLog();
    await truncate(this.vms.paths(inst).consoleLog, 0).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
