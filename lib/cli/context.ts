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
  /** `--force-local`: the local Unix socket, whatever the default remote. */
  forceLocal?: boolean;
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
  private target?: string;

  /**
   * @param argv the command line (without `node` and the script), read to
   *   find the remote a command names (see {@link targetRemote}).
   */
  constructor(
    readonly io: CliIO,
    private readonly readGlobals: () => GlobalFlags,
    private readonly argv: readonly string[] = [],
  ) {
    const { setTargetResolver } = require('./remote') as typeof import('./remote');
    setTargetResolver(() => this.targetRemote());
  }

  get globals(): GlobalFlags {
    return this.readGlobals();
  }

  /**
   * The API client of the remote the command acts on ({@link targetRemote}),
   * created on first use (the client code loads only then).
   */
  client(): IncusClient {
    if (!this.clientInstance) {
      const { openIncusClient } = require('./remotes/connect') as typeof import('./remotes/connect');
      this.clientInstance = openIncusClient(this, this.targetRemote());
    }
    return this.clientInstance;
  }

  /**
   * The one server a command acts on: `local` with --force-local; else the
   * remote of the last argument written `REMOTE:...` that names an Incus
   * remote (commands that reach several remotes connect to each by name);
   * else the default remote.
   */
  targetRemote(): string {
    if (this.target !== undefined) return this.target;
    if (this.globals.forceLocal) return (this.target = 'local');
    const { cliConfig } = require('./remotes/connect') as typeof import('./remotes/connect');
    const conf = cliConfig(this);
    let found: string | undefined;
    for (const a of this.argv) {
      if (a === '--') break;
      if (a.startsWith('-')) continue;
      const colon = a.indexOf(':');
      if (colon <= 0) continue;
      const prefix = a.slice(0, colon);
      // `key=a:b` values, paths, and `host:port` values (core.https_address) name no remote.
      if (prefix.includes('=') || prefix.includes('/') || /^\d+$/.test(a.slice(colon + 1))) continue;
      const r = conf.remotes[prefix];
      if (r && r.protocol === 'incus') found = prefix;
    }
    return (this.target = found ?? conf.defaultRemote);
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

  /** The project commands on the target remote act in, for messages. */
  get projectName(): string {
    return this.remoteProject(this.targetRemote()) ?? 'default';
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
