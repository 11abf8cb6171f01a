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
