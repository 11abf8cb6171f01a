/**
 * The YAML texts `config` and `profile` commands print and open in the
 * editor, in Go's field order, and the clean-up of a decoded PUT body.
 */
import type { ConfigMap, DevicesMap, Instance, InstancePut } from '../api/instance';
import type { InstanceSnapshot } from '../api/instance-snapshot';
import type { Profile } from '../api/profile';
import { devicesShape, instancePutShape, instanceSnapshotShape, profileShape, serverPutShape } from './format/config-shapes';
import { orderKeys } from './format/go-order';
import { instanceShape } from './format/shapes';
import { renderYaml } from './format/yaml';
import { instanceWritable } from './writable';

const INSTANCE_HELP = [
  '### The instance as YAML; lines starting with "#" are ignored.',
  '### Change architecture, config, devices, ephemeral, profiles or description',
  '### and save to apply them. The other fields (name, status, dates...) are shown',
  '### for reference only: changing them here has no effect.',
].join('\n');

const SNAPSHOT_HELP = [
  '### The instance snapshot as YAML; lines starting with "#" are ignored.',
  '### Change expires_at and save to apply it. The other fields are shown',
  '### for reference only: changing them here has no effect.',
].join('\n');

const PROFILE_HELP = [
  '### The profile as YAML; lines starting with "#" are ignored.',
  '### Change config, description or devices and save to apply them to every',
  '### instance using the profile. The name is shown for reference only',
  '### (use `incus profile rename` to rename).',
].join('\n');

/** `config show`: the writable part, with the expanded config and devices if asked. */
export function configShowText(inst: Instance, expanded: boolean): string {
  const put = instanceWritable(inst);
  if (expanded) {
    put.config = { ...(inst.expanded_config ?? {}) };
    put.devices = { ...(inst.expanded_devices ?? {}) };
  }
  return renderYaml(orderKeys(put, instancePutShape));
}

/**
 * `config show INSTANCE/SNAPSHOT` and `snapshot show`: the whole snapshot;
 * `expanded` puts the expanded config and devices in place of its own.
 */
export function snapshotShowText(snap: InstanceSnapshot, expanded: boolean): string {
  const shown: InstanceSnapshot = { ...snap };
  if (expanded) {
    shown.config = { ...(snap.expanded_config ?? {}) };
    shown.devices = { ...(snap.expanded_devices ?? {}) };
  }
  // omitempty in Go: empty expanded maps are left out.
  if (Object.keys(shown.expanded_config ?? {}).length === 0) delete shown.expanded_config;
  if (Object.keys(shown.expanded_devices ?? {}).length === 0) delete shown.expanded_devices;
  return renderYaml(orderKeys(shown, instanceSnapshotShape));
}

/** `config edit INSTANCE/SNAPSHOT`: the snapshot without its expanded fields, under a help header. */
export function snapshotEditText(snap: InstanceSnapshot): string {
  const shown: Partial<InstanceSnapshot> = { ...snap };
  delete shown.expanded_config;
  delete shown.expanded_devices;
  return `${SNAPSHOT_HELP}\n\n${renderYaml(orderKeys(shown, instanceSnapshotShape))}`;
}

/** `config edit`: the whole instance without its expanded fields, under a help header. */
export function instanceEditText(inst: Instance): string {
  const shown: Partial<Instance> = { ...inst };
  delete shown.expanded_config;
  delete shown.expanded_devices;
  return `${INSTANCE_HELP}\n\n${renderYaml(orderKeys(shown, instanceShape))}`;
}

/** `config show` / `config edit` for the server: `config:` only. */
export function serverEditText(config: ConfigMap): string {
  return renderYaml(orderKeys({ config }, serverPutShape));
}

/** `profile show`. */
export function profileText(profile: Profile): string {
  return renderYaml(orderKeys(profile, profileShape));
}

/** `profile edit`: the profile under a help header. */
export function profileEditText(profile: Profile): string {
  return `${PROFILE_HELP}\n\n${profileText(profile)}`;
}

/** `config device show` / `profile device show`. */
export function devicesText(devices: DevicesMap): string {
  return renderYaml(orderKeys(devices ?? {}, devicesShape));
}

/** A PUT body as Go would send it: `restore` only when set (omitempty). */
export function putForWire(put: InstancePut): InstancePut {
  const out = { ...put };
  if (!out.restore) delete out.restore;
  return out;
}
