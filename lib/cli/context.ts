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
      this.clientInstance = new Client({ socketPath: discoverSocketPath(this.io.env), project: this.remoteProject('local') });
    }
    return this.clientInstance;
  }

  /** `--project`, else `$INCUS_PROJECT`: the project that overrides every remote's own. */
  get projectOverride(): string | undefined {
    return this.globals.project || this.io.env.INCUS_PROJECT || undefined;
  }

  /**
   * The project calls to `remote` use: the override, else the one
   * `project switch` stored for the remote (undefined: the server's default).
   */
  remoteProject(remote: string): string | undefined {
    if (this.projectOverride !== undefined) return this.projectOverride;
    const { cliConfig } = require('./remotes/connect') as typeof import('./remotes/connect');
    const stored = cliConfig(this).remotes[remote]?.project;
    return stored && stored !== 'default' ? stored : undefined;
  }

  /** The project commands on the local server act in, for messages. */
  get projectName(): string {
    return this.remoteProject('local') ?? 'default';
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
