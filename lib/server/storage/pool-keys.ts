/**
 * Pool keys every driver takes (Incus's validatePoolCommonRules): source,
 * rsync tuning and the `volume.*` defaults, which a new volume takes
 * where it sets none (Incus's fillVolumeConfig). Driver-specific keys are
 * each driver's own.
 */
import { badRequest } from '../errors';
import { isBool, isCronSchedule, isDuration, isAny, isSize, isUint, type Validator } from '../instance/config/validators';
import type { ContentType, VolumeType } from './interface';

/** Keys a volume shares with its pool's `volume.<key>` (poolAndVolumeCommonRules). */
const VOLUME_DEFAULTS: Record<string, Validator> = {
  size: isSize,
  'snapshots.expiry': isDuration,
  'snapshots.expiry.manual': isDuration,
  'snapshots.schedule': isCronSchedule,
  'snapshots.pattern': isAny,
  'security.shifted': isBool,
  'security.unmapped': isBool,
  'initial.uid': isUint,
  'initial.gid': isUint,
  'initial.mode': isUint,
  'security.shared': isBool,
};

const COMMON: Record<string, Validator> = {
  source: isAny,
  'source.wipe': isBool,
  'volatile.initial_source': isAny,
  'rsync.bwlimit': isSize,
  'rsync.compression': isBool,
  ...Object.fromEntries(Object.entries(VOLUME_DEFAULTS).map(([k, v]) => [`volume.${k}`, v])),
};

/** Whether every driver's pool takes the key. */
export function isCommonPoolKey(key: string): boolean {
  return Object.hasOwn(COMMON, key);
}

/** Checks the values of the common keys; 400 in Incus's words for the first bad one. */
export function checkCommonPoolKeys(config: Record<string, string>): void {
  for (const [k, v] of Object.entries(config)) {
    const why = Object.hasOwn(COMMON, k) ? COMMON[k]!(v) : null;
    if (why) throw badRequest(`Invalid value for option "${k}": ${why} "${v}"`);
  }
}

/**
 * The pool's `volume.*` values a new volume takes where its config has no
 * value: `size` only for custom volumes, the shifting keys only for custom
 * filesystem ones, `security.shared` only for custom block ones (as Incus).
 */
export function volumeDefaultsFrom(poolConfig: Record<string, string>, type: VolumeType, contentType: ContentType | string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(poolConfig)) {
    if (!k.startsWith('volume.')) continue;
    const key = k.slice('volume.'.length);
    if (key === 'size' && type !== 'custom') continue;
    if ((key === 'security.shifted' || key === 'security.unmapped') && (type !== 'custom' || contentType !== 'filesystem')) continue;
    if (key === 'security.shared' && (type !== 'custom' || contentType !== 'block')) continue;
    out[key] = v;
  }
  return out;
}
