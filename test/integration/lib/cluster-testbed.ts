/**
 * N incusd members on one host for cluster tests, through
 * scripts/cluster-testbed.sh (the one implementation of the namespace
 * plumbing): each member in net + mount namespaces of its own, on a bridge in
 * one more namespace, with its own INCUS_DIR. The testbed is taken down in
 * t.teardown, also when the test or `up` fails.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncusClient } from '../../../lib/client';
import { type CliResult, ROOT } from './daemon';

export const TESTBED_SCRIPT = join(ROOT, 'scripts', 'cluster-testbed.sh');
const INCUS = join(ROOT, 'bin', 'incus');

/** One member as D/testbed.json describes it. */
export interface TestbedMember {
  index: number;
  /** "m1", "m2", ... */
  name: string;
  /** The namespaces' name (PREFIX-mI); the pinned files are netnsFile and mountnsFile. */
  netns: string;
  netnsFile: string;
  mountnsFile: string;
  /** Its address on the testbed bridge (10.203.0.(10+I)), reachable only from the members. */
  address: string;
  /** Its INCUS_DIR. */
  dir: string;
  /** Its unix socket, reachable from the host. */
  socket: string;
  /** incusd's PID. */
  pid: number;
  client: IncusClient;
}

interface TestbedJson {
  dir: string;
  prefix: string;
  members: Array<{ index: number; name: string; netns: string; netns_file: string; mountns_file: string; address: string; incus_dir: string; socket: string; pid: number }>;
}

/** Options of ClusterTestbed.start. */
export interface TestbedOptions {
  /** Namespace name prefix; default one unique to this test process. */
  prefix?: string;
  /** Environment on top of this process's for the script (e.g. NODE). */
  env?: NodeJS.ProcessEnv;
}

/** Runs the testbed script; resolves with its status and output (never rejects on a non-zero exit). */
export function runTestbedScript(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const env = { ...process.env, NODE: process.execPath, ...opts.env };
    const c = execFile('bash', [TESTBED_SCRIPT, ...args], { env, timeout: opts.timeoutMs ?? 180_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      // A non-zero exit gives its status as a number; a failed spawn or a timeout gives a string code or a signal.
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr: err && code === -1 ? `${stderr}${err.message}` : stderr });
    });
    c.stdin?.end(opts.input ?? '');
  });
}

let counter = 0;

export class ClusterTestbed {
  members: TestbedMember[] = [];
  private stopped = false;

  private constructor(
    /** The testbed directory (D): members' INCUS_DIRs, namespace files, testbed.json. */
    readonly dir: string,
    readonly prefix: string,
  ) {}

  /** Brings up n members; the testbed goes down in t.teardown whatever happens. */
  static async start(t: { teardown(fn: () => unknown): void }, n: number, opts: TestbedOptions = {}): Promise<ClusterTestbed> {
    const dir = mkdtempSync(join(tmpdir(), 'incus-testbed-'));
    const tb = new ClusterTestbed(dir, opts.prefix ?? `itb${process.pid}-${counter++}`);
    t.teardown(() => tb.stop());
    const up = await runTestbedScript(['up', String(n), '--dir', dir, '--prefix', tb.prefix], { env: opts.env });
    if (up.code !== 0) throw new Error(`cluster-testbed up ${n} failed (${up.code}): ${up.stderr}`);
    const state = JSON.parse(readFileSync(join(dir, 'testbed.json'), 'utf8')) as TestbedJson;
    tb.members = state.members.map((m) => ({
      index: m.index,
      name: m.name,
      netns: m.netns,
      netnsFile: m.netns_file,
      mountnsFile: m.mountns_file,
      address: m.address,
      dir: m.incus_dir,
      socket: m.socket,
      pid: m.pid,
      client: new IncusClient({ socketPath: m.socket }),
    }));
    return tb;
  }

  /** Member i (1-based). */
  member(i: number): TestbedMember {
    const m = this.members[i - 1];
    if (!m) throw new RangeError(`no member ${i} in a testbed of ${this.members.length}`);
    return m;
  }

  /** Runs argv inside member i's namespaces, with INCUS_DIR set to its directory and bin/ first in PATH. */
  exec(i: number, argv: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runTestbedScript(['exec', String(this.member(i).index), '--dir', this.dir, '--', ...argv], opts);
  }

  /**
   * Runs our CLI inside member i's namespaces (so HTTPS remotes on the
   * testbed network are reachable). The client config (INCUS_CONF) defaults
   * to a directory of the member's own; `env` can point it elsewhere.
   */
  cli(i: number, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    const env = { INCUS_CONF: join(this.member(i).dir, 'client-conf'), INCUS_REMOTE: '', INCUS_PROJECT: '', ...opts.env };
    return this.exec(i, [process.execPath, INCUS, ...args], { env, input: opts.input, timeoutMs: opts.timeoutMs });
  }

  /** SIGKILLs member i's daemon (a crash: its namespaces stay). */
  async kill(i: number): Promise<void> {
    const r = await runTestbedScript(['kill', String(this.member(i).index), '--dir', this.dir]);
    if (r.code !== 0) throw new Error(`cluster-testbed kill ${i} failed (${r.code}): ${r.stderr}`);
  }

  /** Starts member i's daemon again and waits until it is ready; its pid is updated. */
  async restart(i: number): Promise<void> {
    const m = this.member(i);
    const r = await runTestbedScript(['start', String(m.index), '--dir', this.dir]);
    if (r.code !== 0) throw new Error(`cluster-testbed start ${i} failed (${r.code}): ${r.stderr}`);
    const state = JSON.parse(readFileSync(join(this.dir, 'testbed.json'), 'utf8')) as TestbedJson;
    m.pid = state.members.find((x) => x.index === m.index)!.pid;
  }

  /** `status` output. */
  async status(): Promise<string> {
    return (await runTestbedScript(['status', '--dir', this.dir])).stdout;
  }

  /** Stops every daemon and removes namespaces, mounts and the directory; safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const down = await runTestbedScript(['down', '--dir', this.dir]);
    if (down.code !== 0) throw new Error(`cluster-testbed down failed (${down.code}): ${down.stderr}`);
    this.stopped = true;
    // `down` leaves a directory that was never marked as a testbed (up failed at once): it is ours.
    rmSync(this.dir, { recursive: true, force: true });
  }
}
