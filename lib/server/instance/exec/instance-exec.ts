/**
 * Running commands in an instance, as the exec layer sees it: each driver
 * supplies an InstanceExec for a running instance (containers attach
 * through liblxc; VMs go through the guest agent), and the websocket and
 * task sessions drive it without knowing which.
 */
import type { Duplex, Readable, Writable } from 'node:stream';

/** What to run. */
export interface ExecCommand {
  command: string[];
  environment: Record<string, string>;
  cwd: string;
  user: number;
  group: number;
}

/** A command started in an instance. */
export interface ExecChild {
  /** Settles once the command runs (rejects when it could not start). */
  readonly started: Promise<unknown>;
  /** The exit status (128 + signal when killed), once it has ended. */
  readonly exited: Promise<number>;
  /** Sends a signal to the command. */
  signal(sig: number): void;
  /** Kills the command (SIGKILL). */
  kill(): void;
}

/** A terminal the command runs on; writes are its input, reads its output. */
export interface ExecPty extends Duplex {
  resize(width: number, height: number): void;
}

/** A command on three pipes. */
export interface PipedExec {
  process: ExecChild;
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
}

/** A command on a terminal. */
export interface PtyExec {
  process: ExecChild;
  pty: ExecPty;
}

/** One running instance's way to run commands, from its driver. */
export interface InstanceExec {
  /** Project and name in the API (for output log URLs). */
  readonly project: string;
  readonly instance: string;
  /** The instance's exec output directory on the host, where recorded output goes. */
  readonly outputDir: string;
  /** Whether commands can run on a terminal (interactive exec). */
  readonly terminals: boolean;
  /** Whether `path` exists inside the instance (the default PATH and HOME depend on it). */
  exists(path: string): boolean;
  /** Starts `cmd` on three fresh pipes. */
  piped(cmd: ExecCommand): Promise<PipedExec>;
  /** Starts `cmd` on a terminal sized width x height (0: leave the default). */
  pty(cmd: ExecCommand, width: number, height: number): Promise<PtyExec>;
  /** Starts `cmd` with stdin on /dev/null and its output on the given fds (null: discarded); the fds are handed over. */
  detached(cmd: ExecCommand, stdout: number | null, stderr: number | null): Promise<ExecChild>;
}
