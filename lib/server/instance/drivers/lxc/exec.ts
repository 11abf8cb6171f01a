/**
 * Runs commands in a running container (InstanceExec for the container
 * driver), with stdio wired one of three ways: three pipes read and
 * written by libuv, one pty from the container's own devpts (so `tty`
 * names a /dev/pts/N that exists inside), or fixed fds (files,
 * /dev/null). The fds meant for the command are handed to the attach
 * helper and closed on our side once it holds them, so end of output is
 * seen when the command (and whatever it left running) lets go of them.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { type AttachedProcess, PtyMaster, attachCommand, makePipe, openPty, setWindowSize } from '../../../../native';
import type { ExecChild, ExecCommand, InstanceExec, PipedExec, PtyExec } from '../../exec/instance-exec';

/** Where the command runs: a running container as liblxc knows it. */
export interface ExecTarget {
  project: string;
  /** Instance name in the API. */
  instance: string;
  /** liblxc container name. */
  lxcName: string;
  lxcpath: string;
  configPath: string;
  /** Where recorded output goes (exec-output/ in the instance's volume). */
  outputDir: string;
  /** Host PID of the container's init. */
  initPid: number;
}

function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}

function spawnWith(target: ExecTarget, cmd: ExecCommand, stdio: [number, number, number]): AttachedProcess {
  return attachCommand({
    name: target.lxcName,
    lxcpath: target.lxcpath,
    configPath: target.configPath,
    command: cmd.command,
    environment: cmd.environment,
    cwd: cmd.cwd,
    uid: cmd.user,
    gid: cmd.group,
    stdio,
  });
}

/** Starts `cmd` on three fresh pipes. */
function startPiped(target: ExecTarget, cmd: ExecCommand): PipedExec {
  const theirs: number[] = [];
  const ours: number[] = [];
  try {
    const [inR, inW] = makePipe();
    theirs.push(inR);
    ours.push(inW);
    const [outR, outW] = makePipe();
    theirs.push(outW);
    ours.push(outR);
    const [errR, errW] = makePipe();
    theirs.push(errW);
    ours.push(errR);
    // From here on the helper side owns inR/outW/errW (closed by spawnWith even when it throws).
    theirs.length = 0;
    const proc = spawnWith(target, cmd, [inR, outW, errW]);
    return {
      process: proc,
      stdin: new Socket({ fd: inW, readable: false, writable: true }),
      stdout: new Socket({ fd: outR, readable: true, writable: false }),
      stderr: new Socket({ fd: errR, readable: true, writable: false }),
    };
  } catch (err) {
    closeAll([...theirs, ...ours]);
    throw err;
  }
}

/**
 * The host id that `id` 0 inside maps to, from a /proc/<pid>/uid_map or
 * gid_map text; 0 when the map is the identity or has no entry for 0.
 */
export function hostIdOfRoot(map: string): number {
  for (const line of map.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length === 3 && f.every(Number.isInteger) && f[0] === 0 && f[2] > 0) return f[1];
  }
  return 0;
}

/** Starts `cmd` on a pty of the container's devpts, sized width x height when both are set. */
async function startPty(target: ExecTarget, cmd: ExecCommand, width: number, height: number): Promise<PtyExec> {
  const [uidMap, gidMap] = await Promise.all([
    readFile(`/proc/${target.initPid}/uid_map`, 'utf8'),
    readFile(`/proc/${target.initPid}/gid_map`, 'utf8'),
  ]);
  const pair = openPty({ pid: target.initPid, uid: hostIdOfRoot(uidMap), gid: hostIdOfRoot(gidMap) });
  try {
    if (width > 0 && height > 0) setWindowSize(pair.master, width, height);
  } catch (err) {
    closeAll([pair.slave, pair.master]);
    throw err;
  }
  try {
    // The slave is handed over (and closed on our side) here.
    const proc = spawnWith(target, cmd, [pair.slave, pair.slave, pair.slave]);
    return { process: proc, pty: new PtyMaster(pair.master) };
  } catch (err) {
    closeAll([pair.master]);
    throw err;
  }
}

/**
 * Starts `cmd` with stdin on /dev/null and stdout/stderr on the given fds
 * (null: /dev/null). The fds passed are handed over (closed here).
 */
function startDetached(target: ExecTarget, cmd: ExecCommand, stdout: number | null, stderr: number | null): AttachedProcess {
  let nul: number;
  try {
    // libuv opens every file close-on-exec.
    nul = openSync('/dev/null', 'r+');
  } catch (err) {
    closeAll([stdout, stderr].filter((fd): fd is number => fd !== null));
    throw err;
  }
  return spawnWith(target, cmd, [nul, stdout ?? nul, stderr ?? nul]);
}

/** InstanceExec for one running container. */
export class LxcExec implements InstanceExec {
  readonly project: string;
  readonly instance: string;
  readonly outputDir: string;
  readonly terminals = true;

  constructor(private readonly target: ExecTarget) {
    this.project = target.project;
    this.instance = target.instance;
    this.outputDir = target.outputDir;
  }

  exists(path: string): boolean {
    // Looked up through /proc, as Incus does: none of these is expected to be a symlink.
    return existsSync(`/proc/${this.target.initPid}/root${path}`);
  }

  async piped(cmd: ExecCommand): Promise<PipedExec> {
    return startPiped(this.target, cmd);
  }

  pty(cmd: ExecCommand, width: number, height: number): Promise<PtyExec> {
    return startPty(this.target, cmd, width, height);
  }

  async detached(cmd: ExecCommand, stdout: number | null, stderr: number | null): Promise<ExecChild> {
    return startDetached(this.target, cmd, stdout, stderr);
  }
}
