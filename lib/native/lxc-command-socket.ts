/**
 * liblxc's monitor listens on an abstract unix socket named after the
 * container ("@<lxcpath>/<name>/command", lxc_make_abstract_socket_name in
 * liblxc). It closes that socket once the container is down for good, after
 * its cgroups are removed (a reboot keeps it open), and only then tidies up
 * and exits: a refused connection is the earliest sign that a stop is
 * complete. Each probe is one non-blocking connect on the event loop; the
 * monitor accepts nothing in that phase.
 */
import { binding } from './addon';

/** sun_path holds 108 bytes, the leading NUL included; liblxc hashes longer names. */
const NAME_MAX = 107;
/** Between the first two probes; the gap then grows (a rebooting container keeps its socket for long). */
const FIRST_GAP_MS = 1;
const MAX_GAP_MS = 100;

/** The socket's abstract name (without the NUL), or null when liblxc had to hash it (we then do not watch it). */
export function commandSocketName(lxcpath: string, name: string): string | null {
  const n = `${lxcpath}/${name}/command`;
  return Buffer.byteLength(n) < NAME_MAX ? n : null;
}

/**
 * Resolves once the container's command socket is closed, probing at
 * growing intervals until then; stops probing (and never resolves) once
 * `signal` aborts, or at once when the name is one liblxc hashes.
 */
export function commandSocketClosed(lxcpath: string, name: string, signal: AbortSignal): Promise<void> {
  const socket = commandSocketName(lxcpath, name);
  const b = binding();
  return new Promise((resolve) => {
    if (socket === null) return;
    let gap = FIRST_GAP_MS;
    const probe = (): void => {
      if (signal.aborted) return;
      if (!b.abstractListening(socket)) return resolve();
      setTimeout(probe, gap);
      gap = Math.min(gap * 2, MAX_GAP_MS);
    };
    probe();
  });
}
