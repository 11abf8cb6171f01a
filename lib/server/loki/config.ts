/**
 * The `loki.*` server keys (Incus 6.0 LTS): where to push, how to
 * authenticate, which events and labels; defaults as Incus's.
 */
import { hostname } from 'node:os';

export const LOKI_KEYS = ['loki.api.ca_cert', 'loki.api.url', 'loki.auth.password', 'loki.auth.username', 'loki.instance', 'loki.labels', 'loki.loglevel', 'loki.types'] as const;

export const LOKI_LEVELS = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'];
const TYPES = ['lifecycle', 'logging', 'network-acl'];

export interface LokiConfig {
  url: string;
  caCert: string;
  username: string;
  password: string;
  /** The `instance` label (default: the host name). */
  instance: string;
  /** The `location` label on a standalone server: the host name. */
  location: string;
  /** Context keys promoted to labels. */
  labels: string[];
  level: string;
  types: string[];
}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The pusher's settings, or null when `loki.api.url` is unset. */
export function lokiConfigOf(config: Record<string, string>): LokiConfig | null {
  const url = (config['loki.api.url'] ?? '').replace(/\/+$/, '');
  if (!url) return null;
  const host = hostname();
  return {
    url,
    caCert: config['loki.api.ca_cert'] ?? '',
    username: config['loki.auth.username'] ?? '',
    password: config['loki.auth.password'] ?? '',
    instance: config['loki.instance'] || host,
    location: host,
    labels: list(config['loki.labels']),
    level: config['loki.loglevel'] || 'info',
    types: config['loki.types'] !== undefined ? list(config['loki.types']) : ['lifecycle', 'logging'],
  };
}

/** Why a `loki.*` value is invalid, or null. */
export function lokiKeyProblem(key: string, value: string): string | null {
  if (key === 'loki.api.url') {
    try {
      const u = new URL(value);
      return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'Invalid URL scheme';
    } catch {
      return 'Invalid URL';
    }
  }
  if (key === 'loki.loglevel') return LOKI_LEVELS.includes(value) ? null : `Invalid value (not one of: ${LOKI_LEVELS.join(', ')})`;
  if (key === 'loki.types') {
    const bad = list(value).find((t) => !TYPES.includes(t));
    return bad ? `Invalid value "${bad}" (not one of: ${TYPES.join(', ')})` : null;
  }
  return null;
}
