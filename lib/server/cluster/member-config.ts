/**
 * A cluster member's own config keys (Incus's clusterValidateConfig):
 * scheduler.instance and free-form user.* keys.
 */
import { StatusError } from '../errors';

const VALIDATORS: Record<string, (v: string) => boolean> = {
  'scheduler.instance': (v) => v === '' || ['all', 'group', 'manual'].includes(v),
};

export function validateMemberConfig(config: Record<string, string>): void {
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith('user.')) continue;
    const valid = VALIDATORS[k];
    if (!valid) throw new StatusError(500, `Invalid cluster configuration key "${k}"`);
    if (!valid(v)) throw new StatusError(500, `Invalid cluster configuration key "${k}" value`);
  }
}
