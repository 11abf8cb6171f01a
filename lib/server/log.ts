/** The daemon's logger: lines to a file or stderr, mirrored as `logging` events. */
import { appendFileSync } from 'node:fs';
import type { EventBus } from './operations/event-bus';

export type Level = 'debug' | 'info' | 'warning' | 'error';

export class Logger {
  private bus: EventBus | null = null;

  constructor(
    private readonly file: string | null,
    private readonly debugOn: boolean,
  ) {}

  attach(bus: EventBus): void {
    this.bus = bus;
  }

  log(level: Level, message: string, context: Record<string, string> = {}): void {
    if (level === 'debug' && !this.debugOn) return;
    const ctx = Object.entries(context)
      .map(([k, v]) => ` ${k}=${JSON.stringify(v)}`)
      .join('');
    const line = `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(message)}${ctx}\n`;
    if (this.file) appendFileSync(this.file, line);
    else process.stderr.write(line);
    this.bus?.emit('logging', { message, level, context });
  }

  debug(m: string, c?: Record<string, string>): void {
    this.log('debug', m, c);
  }
  info(m: string, c?: Record<string, string>): void {
    this.log('info', m, c);
  }
  warn(m: string, c?: Record<string, string>): void {
    this.log('warning', m, c);
  }
  error(m: string, c?: Record<string, string>): void {
    this.log('error', m, c);
  }
}
