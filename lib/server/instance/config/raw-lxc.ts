/** `raw.lxc`: extra liblxc lines, refused when they touch what the daemon manages. */

/** Keys (or key prefixes ending in ".") the daemon writes itself. */
const MANAGED = [
  'lxc.log.file',
  'lxc.logfile',
  'lxc.log.syslog',
  'lxc.syslog',
  'lxc.ephemeral',
  'lxc.prlimit.',
  'lxc.net.',
  'lxc.network.',
  'lxc.rootfs.path',
  'lxc.uts.name',
  'lxc.console.logfile',
  'lxc.seccomp.notify.',
];

/** Why raw.lxc text is refused, or null when every line is acceptable. */
export function rawLxcProblem(text: string): string | null {
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) return `line ${i + 1}: missing "="`;
    const key = line.slice(0, eq).trim();
    if (!/^lxc\.[a-z0-9_.]+$/i.test(key)) return `line ${i + 1}: invalid key "${key}"`;
    if (MANAGED.some((m) => (m.endsWith('.') ? key.startsWith(m) : key === m))) {
      return `line ${i + 1}: "${key}" is managed by the daemon and cannot be set`;
    }
  }
  return null;
}

/** The key/value pairs of raw.lxc text, in order. */
export function parseRawLxc(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    out.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return out;
}
