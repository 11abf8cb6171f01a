/** Go field order of the writable structs `config` and `profile` print as YAML (see go-order). */
import { map, struct, type Shape } from './go-order';

/** api.DevicesMap */
export const devicesShape: Shape = map(map());

/** api.InstancePut (`incus config show`) */
export const instancePutShape: Shape = struct([
  ['architecture', null],
  ['config', map()],
  ['devices', devicesShape],
  ['ephemeral', null],
  ['profiles', null],
  ['restore', null],
  ['disk_only', null],
  ['stateful', null],
  ['description', null],
]);

/** api.InstanceSnapshot (`incus config show INSTANCE/SNAPSHOT`, `incus snapshot show`): the inlined InstanceSnapshotPut first */
export const instanceSnapshotShape: Shape = struct([
  ['expires_at', null],
  ['architecture', null],
  ['config', map()],
  ['created_at', null],
  ['description', null],
  ['devices', devicesShape],
  ['ephemeral', null],
  ['expanded_config', map()],
  ['expanded_devices', devicesShape],
  ['last_used_at', null],
  ['name', null],
  ['profiles', null],
  ['stateful', null],
  ['size', null],
]);

/** api.StorageVolumeSnapshot (`incus storage volume snapshot show`): the inlined StorageVolumeSnapshotPut first */
export const volumeSnapshotShape: Shape = struct([
  ['description', null],
  ['expires_at', null],
  ['name', null],
  ['config', map()],
  ['content_type', null],
  ['created_at', null],
]);

/** api.Profile (`incus profile show`, `profile list -f yaml|json`) */
export const profileShape: Shape = struct([
  ['config', map()],
  ['description', null],
  ['devices', devicesShape],
  ['name', null],
  ['used_by', null],
  ['project', null],
]);

/** api.ServerPut (`incus config show` without an instance) */
export const serverPutShape: Shape = struct([['config', map()]]);
