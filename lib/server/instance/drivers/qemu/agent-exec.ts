/**
 * Commands in a VM through its guest agent (InstanceExec for the QEMU
 * driver): on three pipes, or on a pty in the guest (interactive exec,
 * `incus shell`) whose window the control socket resizes.
 */
import { closeSync, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ExecChild, ExecCommand, InstanceExec, PipedExec, PtyExec } from '../../exec/instance-exec';
import type { AgentClient, AgentExec } from './agent-client';
import { AgentPty } from './agent-pty';

const SIGKILL = 9;

function child(client: AgentClient, run: AgentExec): ExecChild {
  const exited = run.exit.then((e) => (e.signal ? 128 + e.signal : e.code));
  return {
    started: Promise.resolve(),
    exited,
    signal: (sig) => void client.signal(run.pid, sig).catch(() => undefined),
    kill: () => void client.signal(run.pid, SIGKILL).catch(() => undefined),
  };
}

/** Sends a stream to an fd we were handed (closed at the end), or drains it. */
function sink(stream: Readable, fd: number | null): void {
  if (fd === null) stream.resume();
  else stream.pipe(createWriteStream('', { fd }));
}

export class AgentExecTarget implements InstanceExec {
  readonly terminals = true;

  constructor(
    readonly project: string,
    readonly instance: string,
    readonly outputDir: string,
    private readonly client: AgentClient,
  ) {}

  exists(): boolean {
    // The guest's files are not checked from the host: the default PATH is used.
    return false;
  }

  private run(cmd: ExecCommand, pty?: { width: number; height: number }): Promise<AgentExec> {
    return this.client.exec({
      argv: cmd.command,
      env: Object.entries(cmd.environment).map(([k, v]) => `${k}=${v}`),
      cwd: cmd.cwd || undefined,
      uid: cmd.user,
      gid: cmd.group,
      pty,
    });
  }

  async piped(cmd: ExecCommand): Promise<PipedExec> {
    const run = await this.run(cmd);
    return { process: child(this.client, run), stdin: run.stdin, stdout: run.stdout, stderr: run.stderr };
  }

  async pty(cmd: ExecCommand, width: number, height: number): Promise<PtyExec> {
    const run = await this.run(cmd, { width, height });
    const client = this.client;
    return { process: child(client, run), pty: new AgentPty(run, (w, h) => client.resize(run.pid, w, h)) };
  }

  async detached(cmd: ExecCommand, stdout: number | null, stderr: number | null): Promise<ExecChild> {
    let run: AgentExec;
    try {
      run = await this.run(cmd);
    } catch (err) {
      for (const fd of [stdout, stderr]) if (fd !== null) closeSync(fd);
      throw err;
    }
    run.stdin.end();
    sink(run.stdout, stdout);
    sink(run.stderr, stderr);
    return child(this.client, run);
  }
}
