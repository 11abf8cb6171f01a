/**
 * Incus's deviceVolatileReset: when an update removes a device or changes
 * it, the device's `volatile.<dev>.*` keys go (all of them when the device
 * is gone or its type or NIC type changed; otherwise those the new config
 * now sets itself, such as an `hwaddr` replacing `volatile.<dev>.hwaddr`).
 */
import type { DevicesMap } from '../../../api/instance';
import { deviceChanges } from './runner';
import { nicKind } from './nic-common';

const kindOf = (d: Record<string, string>): string => (d.type === 'nic' ? `nic/${nicKind(d)}` : d.type);

/** The volatile keys of `config` that the change from `before` to `after` (expanded devices) clears. */
export function volatileToReset(config: Record<string, string>, before: DevicesMap, after: DevicesMap): string[] {
  const out: string[] = [];
  for (const [name, old] of deviceChanges(before, after).removed) {
    const prefix = `volatile.${name}.`;
    const next = after[name];
    const all = !next || kindOf(next) !== kindOf(old);
    for (const k of Object.keys(config)) {
      if (k.startsWith(prefix) && (all || k.slice(prefix.length) in next)) out.push(k);
    }
  }
  return out;
}
