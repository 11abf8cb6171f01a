/**
 * Value checks for server config keys (`PUT|PATCH /1.0`), with Incus's
 * error wording ("cannot set 'KEY' to 'VALUE': REASON"). Pure functions.
 */
import { isIP } from 'node:net';
import { offlineThresholdProblem } from './cluster/heartbeat';
import { expiryFrom } from './instance/snapshot-names';
import { lokiKeyProblem } from './loki/config';

/** RFC 1123 host name (labels of letters, digits and inner hyphens). */
const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Go's net.SplitHostPort leniency as Incus uses it: a bare host (or bare IPv6) has no port. */
function splitHostPort(v: string): { host: string; port?: string } | null {
  if (v.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(v);
    return m ? { host: m[1]!, port: m[2] } : null;
  }
  const colons = v.split(':').length - 1;
  if (colons === 1) return { host: v.slice(0, v.indexOf(':')), port: v.slice(v.indexOf(':') + 1) };
  return { host: v };
}

/**
 * Incus's IsListenAddress(allowDNS, allowWildcard, !requirePort): a
 * wildcard, an IP or a host name, with an optional port. Unlike Incus the
 * name is not resolved (a lookup would park a libuv thread on the
 * resolver), but the port must be a number from 1 to 65535.
 */
export function listenAddressProblem(v: string): string | null {
  const hp = splitHostPort(v);
  if (!hp) return 'Invalid address';
  if (hp.port !== undefined && (!/^\d{1,5}$/.test(hp.port) || Number(hp.port) < 1 || Number(hp.port) > 65535)) {
    return `Invalid port ${JSON.stringify(hp.port)}`;
  }
  if (['', '::', '0.0.0.0'].includes(hp.host)) return null;
  if (isIP(hp.host) !== 0 || HOSTNAME.test(hp.host)) return null;
  return `Invalid address ${JSON.stringify(hp.host)}`;
}

function expiryProblem(v: string): string | null {
  try {
    expiryFrom(new Date(0), v);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const VALIDATORS: Record<string, (v: string) => string | null> = {
  'core.https_address': listenAddressProblem,
  'core.metrics_address': listenAddressProblem,
  'core.metrics_authentication': (v) => (['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v.toLowerCase()) ? null : 'invalid boolean'),
  'cluster.https_address': listenAddressProblem,
  'cluster.join_token_expiry': expiryProblem,
  'cluster.offline_threshold': offlineThresholdProblem,
  'core.remote_token_expiry': expiryProblem,
  'core.shutdown_timeout': (v) => (/^[+-]?\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? null : 'invalid integer'),
  'instances.nic.host_name': (v) => (['random', 'mac'].includes(v) ? null : `Invalid value "${v}" (not one of [random mac])`),
};

/** Free-form `user.*` keys: the rest of the name only letters, digits and punctuation (Go's unicode classes). */
const USER_KEY_REST = /^[\p{L}\p{Nd}\p{P}]*$/u;

/** The Incus-worded error for setting key to value, or null when the value is fine ("" unsets). */
export function serverKeyProblem(key: string, value: string): string | null {
  if (key.startsWith('user.') && !USER_KEY_REST.test(key.slice('user.'.length))) {
    return `cannot set '${key}' to '${value}': Invalid key name`;
  }
  if (value === '') return null;
  const why = key.startsWith('loki.') ? lokiKeyProblem(key, value) : (VALIDATORS[key]?.(value) ?? null);
  return why ? `cannot set '${key}' to '${value}': ${why}` : null;
}
