/**
 * Who may read `/1.0/metrics` and which samples they see, as Incus's
 * allowMetrics and getFilteredMetrics (cmd/incusd/api_metrics.go) with the
 * TLS authorizer (internal/server/auth/driver_tls.go): with
 * `core.metrics_authentication` off, anyone sees everything; otherwise the
 * Unix socket and unrestricted client or metrics certificates see
 * everything, restricted ones only the instances of their projects (a
 * restricted client also only while its request's project is one of
 * them), and everyone else is refused. A metrics certificate counts only
 * here: elsewhere it is an untrusted caller.
 */
import type { Caller } from '../auth/caller';

/** 'deny', 'all', or only the instance samples of these projects (none of the daemon's). */
export type MetricsAccess = 'deny' | 'all' | { projects: string[] };

/**
 * @param authentication core.metrics_authentication (default true)
 * @param requestProject the request's `project` parameter ("default" when absent)
 */
export function metricsAccess(caller: Caller, authentication: boolean, requestProject: string): MetricsAccess {
  if (!authentication || caller.protocol === 'unix') return 'all';
  const cert = caller.certificate;
  const metricsCert = cert?.type === 'metrics';
  if (!caller.trusted && !metricsCert) return 'deny';
  if (!cert?.restricted) return 'all';
  const projects = cert.projects ?? [];
  // A restricted client sees nothing outside the project it asks about.
  if (!metricsCert && !projects.includes(requestProject)) return { projects: [] };
  // Daemon-wide samples (no instance labels) are not a restricted caller's.
  return { projects };
}
