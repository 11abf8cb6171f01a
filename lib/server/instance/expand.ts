/**
 * Expanded config and devices: profiles applied in order, then the
 * instance's own values; a `type: none` device masks a profile's device.
 */
import type { ConfigMap, DevicesMap } from '../../api/instance';

export interface Layer {
  config: ConfigMap;
  devices: DevicesMap;
}

export function expandConfig(profiles: Layer[], local: Layer): { config: ConfigMap; devices: DevicesMap } {
  const config: ConfigMap = {};
  const devices: DevicesMap = {};
  for (const layer of [...profiles, local]) {
    Object.assign(config, layer.config);
    for (const [name, dev] of Object.entries(layer.devices)) devices[name] = { ...dev };
  }
  for (const [name, dev] of Object.entries(devices)) if (dev.type === 'none') delete devices[name];
  return { config, devices };
}

/** The root disk device (a `disk` with path `/`), with its name. */
export function rootDisk(devices: DevicesMap): { name: string; pool: string; config: Record<string, string> } | null {
  for (const [name, dev] of Object.entries(devices)) {
    if (dev.type === 'disk' && dev.path === '/' && !dev.source) return { name, pool: dev.pool ?? '', config: dev };
  }
  return null;
}
