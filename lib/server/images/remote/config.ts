/**
 * The server keys that drive the image cache, with Incus's defaults.
 * Fractions are accepted (an extension: Incus takes whole hours and days),
 * so tests can run the tasks on a short period.
 */
import { badRequest } from '../../errors';

export interface ImageCacheConfig {
  /** `images.auto_update_interval`: hours between refreshes of auto-updating images; 0 disables. */
  autoUpdateIntervalHours: number;
  /** `images.auto_update_cached`: images cached for a launch auto-update. */
  autoUpdateCached: boolean;
  /** `images.remote_cache_expiry`: days an unused cached image is kept; 0 keeps them. */
  remoteCacheExpiryDays: number;
}

function num(config: Record<string, string>, key: string, def: number): number {
  const raw = config[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : def;
}

export function imageCacheConfig(config: Record<string, string>): ImageCacheConfig {
  const cached = config['images.auto_update_cached'];
  return {
    autoUpdateIntervalHours: num(config, 'images.auto_update_interval', 6),
    autoUpdateCached: cached === undefined || cached === '' ? true : ['true', '1', 'yes', 'on'].includes(cached.toLowerCase()),
    remoteCacheExpiryDays: num(config, 'images.remote_cache_expiry', 10),
  };
}

/** Validates the values of these keys (for the server config route). @throws StatusError 400. */
export function validateImageCacheKey(key: string, value: string): void {
  if (key === 'images.auto_update_interval' || key === 'images.remote_cache_expiry') {
    if (value !== '' && !(Number.isFinite(Number(value)) && Number(value) >= 0)) {
      throw badRequest(`Invalid value for "${key}": "${value}" is not a non-negative number`);
    }
  }
  if (key === 'images.auto_update_cached' && value !== '' && !['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(value.toLowerCase())) {
    throw badRequest(`Invalid value for "${key}": "${value}" is not a boolean`);
  }
}
