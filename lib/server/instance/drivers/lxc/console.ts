/**
 * A container's console as the instance layer sees it: attach (through the
 * monitor's command socket), and the console log, which is the ring buffer
 * while the container runs and the log file liblxc wrote once it stopped
 * (the same split Incus makes).
 */
import { constants } from 'node:fs';
import { join } from 'node:path';
import { type ConsolePty, clearConsoleLog, openConsole, readConsoleLog } from '../../../../native/console';
import { NativeError } from '../../../../native/errors';
import type { LxcHandle } from '../../../../native/lxc';
import { StatusError } from '../../../errors';
import { openPlainFile } from '../../logs';
import { lxcName } from './driver';

/** How long an attach retries while liblxc still holds a console being given back (a takeover). */
const BUSY_RETRY_MS = 1000;
const BUSY_STEP_MS = 50;

/** Identifies an instance to this module. */
export interface ConsoleTarget {
  project: string;
  name: string;
}

/** Console access for the containers under one INCUS_DIR. */
export class LxcConsoles {
  constructor(private readonly varDir: string) {}

  private handle(t: ConsoleTarget): LxcHandle {
    return { name: lxcName(t.project, t.name), lxcpath: join(this.varDir, 'containers') };
  }

  /** $INCUS_DIR/logs/<lxc name>/console.log, where liblxc copies the console (lxc.console.logfile). */
  logFile(t: ConsoleTarget): string {
    return join(this.varDir, 'logs', lxcName(t.project, t.name), 'console.log');
  }

  /**
   * Attaches to a running container's console. A console still held by a
   * session that is going away is retried for a short while; one held by
   * someone else ends in a 409.
   */
  async attach(t: ConsoleTarget, signal?: AbortSignal): Promise<ConsolePty> {
    const deadline = Date.now() + BUSY_RETRY_MS;
    for (;;) {
      try {
        return await openConsole(this.handle(t));
      } catch (err) {
        if (!(err instanceof NativeError)) throw err;
        if (err.code === 'ESRCH') throw new StatusError(400, 'Instance is not running');
        if (err.code !== 'EBUSY') throw err;
        if (Date.now() >= deadline || signal?.aborted) {
          throw new StatusError(409, 'The console is in use by another client');
        }
      }
      await new Promise((resolve) => setTimeout(resolve, BUSY_STEP_MS));
    }
  }

  /** The console log: the ring buffer while running (reading drains it, as liblxc does), else the log file. */
  async readLog(t: ConsoleTarget, running: boolean): Promise<Buffer> {
    if (running) {
      try {
        return await readConsoleLog(this.handle(t));
      } catch (err) {
        // Stopped between the state check and the read (no monitor to ask): fall back to the file.
        if (!(err instanceof NativeError) || (err.code !== 'ESRCH' && err.code !== 'ECONNREFUSED')) throw err;
      }
    }
    const fh = await openPlainFile(this.logFile(t), constants.O_RDONLY);
    if (!fh) return Buffer.alloc(0);
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /** Clears the ring buffer of a running container, or truncates the log file of a stopped one. */
  async clearLog(t: ConsoleTarget, running: boolean): Promise<void> {
    if (running) {
      try {
        await clearConsoleLog(this.handle(t));
        return;
      } catch (err) {
        if (!(err instanceof NativeError) || (err.code !== 'ESRCH' && err.code !== 'ECONNREFUSED')) throw err;
      }
    }
    const fh = await openPlainFile(this.logFile(t), constants.O_WRONLY);
    if (!fh) throw new StatusError(404, 'The console log does not exist');
    try {
      await fh.truncate(0);
    } finally {
      await fh.close();
    }
  }
}

