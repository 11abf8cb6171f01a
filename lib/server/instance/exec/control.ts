/**
 * Messages on the exec `control` websocket, decoded as Incus reads them:
 * JSON text with `command` `window-resize` (args.width/args.height as
 * decimal strings) or `signal` (the top-level `signal` number; `args.signal`
 * is accepted too). Anything else is ignored.
 */

/** A control request the session acts on. */
export type ExecControlAction =
  | { kind: 'resize'; width: number; height: number }
  | { kind: 'signal'; signal: number };

/** Largest signal number Linux has (SIGRTMAX). */
const SIGNAL_MAX = 64;

function dimension(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null;
}

function signalNumber(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= SIGNAL_MAX ? n : null;
}

/** Decodes one control message; null for anything not understood (Incus skips those). */
export function parseExecControl(text: string): ExecControlAction | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as { command?: unknown; args?: unknown; signal?: unknown };
  const args = typeof m.args === 'object' && m.args !== null ? (m.args as Record<string, unknown>) : {};
  if (m.command === 'window-resize') {
    const width = dimension(args.width);
    const height = dimension(args.height);
    return width !== null && height !== null ? { kind: 'resize', width, height } : null;
  }
  if (m.command === 'signal') {
    const sig = signalNumber(m.signal) ?? signalNumber(args.signal);
    return sig !== null ? { kind: 'signal', signal: sig } : null;
  }
  return null;
}
