/**
 * The heartbeat task of a cluster member, and Incus's offline rule for the
 * members' `status` and `message`.
 *
 * Unlike Incus, whose leader probes every member and writes their
 * heartbeats (with the member list), each member here writes its own
 * heartbeat timestamp into its `nodes` row through the cluster database:
 * a member that stops (or loses the database) stops beating, which is
 * what the offline check reads.
 */

/** Seconds between two heartbeats: well under the smallest offline threshold (11 s). */
export const HEARTBEAT_INTERVAL_MS = 4_000;

/** `cluster.offline_threshold` when unset, in seconds (Incus's DefaultOfflineThreshold). */
export const DEFAULT_OFFLINE_THRESHOLD = 20;

/** Incus's offlineThresholdValidator (after the Int64 type check): more than 10 seconds. */
export function offlineThresholdProblem(v: string): string | null {
  if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) return 'invalid integer';
  if (Number(v) <= 10) return "Value must be greater than '10'";
  return null;
}

/** The threshold in seconds from the server config (the default when unset). */
export function offlineThresholdOf(config: Record<string, string>): number {
  const v = config['cluster.offline_threshold'];
  return v === undefined || v === '' ? DEFAULT_OFFLINE_THRESHOLD : Number(v);
}

/** A `nodes.heartbeat` value (SQLite's "YYYY-MM-DD HH:MM:SS", UTC, or an ISO string) as a Date. */
export function parseHeartbeat(value: unknown): Date {
  if (value instanceof Date) return value;
  const s = String(value).trim().replace(' ', 'T');
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
}

/** Go's Duration.String for whole seconds ("25s", "1m5s", "2h0m3s"). */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const sec = seconds % 60;
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * A member's status and message (Incus's NodeInfo.ToAPI): "Offline" with
 * "No heartbeat for …" once its heartbeat is at least `thresholdSeconds` old.
 */
export function memberHealth(heartbeat: unknown, thresholdSeconds: number, now: Date = new Date()): { status: string; message: string } {
  const hb = parseHeartbeat(heartbeat);
  if (Number.isNaN(hb.getTime()) || hb.getTime() > now.getTime() - thresholdSeconds * 1000) return { status: 'Online', message: 'Fully operational' };
  const since = goDuration(Math.round((now.getTime() - hb.getTime()) / 1000));
  const at = `${hb.getUTCFullYear()}-${pad(hb.getUTCMonth() + 1)}-${pad(hb.getUTCDate())} ${pad(hb.getUTCHours())}:${pad(hb.getUTCMinutes())}:${pad(hb.getUTCSeconds())} +0000`;
  return { status: 'Offline', message: `No heartbeat for ${since} (${at})` };
}

/**
 * Runs `beat` every HEARTBEAT_INTERVAL_MS while started: on an unref'd
 * timer, one beat at a time (a beat that waits on a database without
 * quorum does not pile up more), failures handed to `onError`.
 */
export class HeartbeatTask {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly beat: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly intervalMs = HEARTBEAT_INTERVAL_MS,
  ) {}

  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (this.busy) return;
    this.busy = true;
    this.beat()
      .catch((err: unknown) => {
        if (this.timer) this.onError(err);
      })
      .finally(() => {
        this.busy = false;
      });
  }
}
