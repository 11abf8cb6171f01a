/** What every command gets: global flags, output streams and a lazy client. */
import type { IncusClient } from '../client/client';

/** Where output goes (process.stdout, or a string sink in tests). */
export interface Writer {
  write(chunk: string): unknown;
}

/** Options valid on every command. */
export interface GlobalFlags {
  project?: string;
  quiet?: boolean;
}

/** The streams and environment a run uses. */
export interface CliIO {
  out: Writer;
  err: Writer;
  env: NodeJS.ProcessEnv;
}

/** Shared state of one CLI run, handed to every command. */
export class CliContext {
  /** Exit status the current command asks for. */
  exitCode = 0;
  private clientInstance?: IncusClient;

  constructor(
    readonly io: CliIO,
    private readonly readGlobals: () => GlobalFlags,
  ) {}

  get globals(): GlobalFlags {
    return this.readGlobals();
  }

  /** The API client, created on first use (the client code loads only then). */
  client(): IncusClient {
    if (!this.clientInstance) {
      const { IncusClient: Client } = require('../client/client') as typeof import('../client/client');
      const { discoverSocketPath } = require('../client/socket-path') as typeof import('../client/socket-path');
      this.clientInstance = new Client({ socketPath: discoverSocketPath(this.io.env), project: this.globals.project });
    }
    return this.clientInstance;
  }

  /** The project commands act in, for messages (`default` unless --project). */
  get projectName(): string {
    return this.globals.project ?? 'default';
  }

  out(text: string): void {
    this.io.out.write(text);
  }

  err(text: string): void {
    this.io.err.write(text);
  }

  /** Prints unless --quiet. */
  say(text: string): void {
    if (!this.globals.quiet) this.io.out.write(text);
  }

  close(): void {
    this.clientInstance?.close();
  }
}
