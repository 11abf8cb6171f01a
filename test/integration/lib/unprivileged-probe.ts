/**
 * Tries host paths as an unprivileged host user (nobody, no supplementary
 * groups) and reports the error each attempt got: the witness that instance,
 * snapshot, volume and image content is out of reach of local users.
 */
import { spawnSync } from 'node:child_process';

/**
 * What to try on a path: list a directory, open a file for reading, execute
 * it, or merely stat it (refused only when a directory above cannot be traversed).
 */
export type ProbeOp = 'readdir' | 'read' | 'exec' | 'stat';

export interface Probe {
  path: string;
  op: ProbeOp;
}

/** The outcome of one probe: the errno code, or 'OK' when it succeeded. */
export interface ProbeResult extends Probe {
  code: string;
}

export const NOBODY = 65534;

// Runs as nobody: each probe once, outcome by errno code.
const SCRIPT = `
const fs = require('node:fs');
const cp = require('node:child_process');
const out = [];
for (const p of JSON.parse(process.argv[1])) {
  let code = 'OK';
  try {
    if (p.op === 'readdir') fs.readdirSync(p.path);
    else if (p.op === 'read') fs.closeSync(fs.openSync(p.path, 'r'));
    else if (p.op === 'stat') fs.statSync(p.path);
    else {
      const r = cp.spawnSync(p.path, ['true'], { timeout: 10000 });
      if (r.error) throw r.error;
    }
  } catch (err) {
    code = err.code || String(err);
  }
  out.push({ ...p, code });
}
process.stdout.write(JSON.stringify(out));
`;

/** Runs the probes as uid/gid 65534 with no supplementary groups (libuv drops them). */
export function probeAsNobody(probes: Probe[]): ProbeResult[] {
  const r = spawnSync(process.execPath, ['-e', SCRIPT, JSON.stringify(probes)], {
    uid: NOBODY,
    gid: NOBODY,
    cwd: '/',
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`probe as nobody failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ProbeResult[];
}
