/**
 * PID files for device helper processes (proxy relays, swtpm) under
 * $INCUS_DIR/devices/<instance>/. Each records the PID and the process's
 * start time, so that a PID reused by another process is never signalled.
 */
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or null when gone or a zombie. */
export function processStartTime(pid: number, procRoot = '/proc'): string | null {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; count from its closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return null;
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** Writes "PID STARTTIME". */
export async function writePidFile(path: string, pid: number): Promise<void> {
  await writeFile(path, `${pid} ${processStartTime(pid) ?? '0'}\n`, { mode: 0o600 });
}

/** The live process the file names, or null (no file, or the process is gone or another one). */
export async function livePid(path: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  const [p, start] = text.trim().split(' ');
  const pid = Number(p);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const now = processStartTime(pid);
  return now !== null && now === start ? pid : null;
}

/**
 * SIGTERMs the process the file names (if it is still that process), waits
 * up to `waitMs` for it to go, SIGKILLs it otherwise, then removes the file.
 */
export async function stopPidFile(path: string, waitMs = 3000): Promise<void> {
  const pid = await livePid(path);
  if (pid !== null) {
    const start = processStartTime(pid);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + waitMs;
    while (processStartTime(pid) === start && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (processStartTime(pid) === start) process.kill(pid, 'SIGKILL');
  }
  await rm(path, { force: true });
}
