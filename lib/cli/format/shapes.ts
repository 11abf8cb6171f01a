/** Go field order of the API types the CLI prints as JSON/YAML (see go-order). */
import { list, map, struct, type Shape } from './go-order';

const devices = map(map());

const instancePut = [
  ['architecture', null],
  ['config', map()],
  ['devices', devices],
  ['ephemeral', null],
  ['profiles', null],
  ['restore', null],
  ['disk_only', null],
  ['stateful', null],
  ['description', null],
] as const;

const instanceOwn = [
  ['created_at', null],
  ['expanded_config', map()],
  ['expanded_devices', devices],
  ['name', null],
  ['status', null],
  ['status_code', null],
  ['last_used_at', null],
  ['location', null],
  ['type', null],
  ['project', null],
] as const;

/** api.InstanceState */
export const instanceStateShape: Shape = struct([
  ['status', null],
  ['status_code', null],
  ['disk', map(struct([['usage', null], ['total', null]]))],
  [
    'memory',
    struct([['usage', null], ['usage_peak', null], ['total', null], ['swap_usage', null], ['swap_usage_peak', null]]),
  ],
  [
    'network',
    map(
      struct([
        ['addresses', list(struct([['family', null], ['address', null], ['netmask', null], ['scope', null]]))],
        [
          'counters',
          struct([
            ['bytes_received', null],
            ['bytes_sent', null],
            ['packets_received', null],
            ['packets_sent', null],
            ['errors_received', null],
            ['errors_sent', null],
            ['packets_dropped_outbound', null],
            ['packets_dropped_inbound', null],
          ]),
        ],
        ['hwaddr', null],
        ['host_name', null],
        ['mtu', null],
        ['state', null],
        ['type', null],
      ]),
    ),
  ],
  ['pid', null],
  ['processes', null],
  ['cpu', struct([['usage', null], ['allocated_time', null]])],
  ['started_at', null],
  ['os_info', null],
]);

/** api.Instance */
export const instanceShape: Shape = struct([...instancePut, ...instanceOwn]);

/** api.InstanceFull (recursion=2, and what `incus list -f json` prints) */
export const instanceFullShape: Shape = struct([
  ...instancePut,
  ...instanceOwn,
  ['backups', null],
  ['state', instanceStateShape],
  ['snapshots', null],
]);

/** api.Image */
export const imageShape: Shape = struct([
  ['auto_update', null],
  ['properties', map()],
  ['public', null],
  ['expires_at', null],
  ['profiles', null],
  ['aliases', list(struct([['name', null], ['description', null]]))],
  ['architecture', null],
  ['cached', null],
  ['filename', null],
  ['fingerprint', null],
  ['size', null],
  ['update_source', struct([['alias', null], ['certificate', null], ['protocol', null], ['server', null], ['image_type', null]])],
  ['type', null],
  ['created_at', null],
  ['last_used_at', null],
  ['uploaded_at', null],
  ['project', null],
  ['locations', null],
]);

/** api.ImageAliasesEntry */
export const imageAliasShape: Shape = struct([
  ['description', null],
  ['target', null],
  ['name', null],
  ['type', null],
]);

/** api.Server, with the api_extensions_count that `incus info` shows */
export const serverShape: Shape = struct([
  ['config', map()],
  ['api_extensions', null],
  ['api_extensions_count', null],
  ['api_status', null],
  ['api_version', null],
  ['auth', null],
  ['public', null],
  ['auth_methods', null],
  ['auth_user_name', null],
  ['auth_user_method', null],
  [
    'environment',
    struct([
      ['addresses', null],
      ['architectures', null],
      ['certificate', null],
      ['certificate_fingerprint', null],
      ['driver', null],
      ['driver_version', null],
      ['firewall', null],
      ['kernel', null],
      ['kernel_architecture', null],
      ['kernel_features', map()],
      ['kernel_version', null],
      ['lxc_features', map()],
      ['os_name', null],
      ['os_version', null],
      ['project', null],
      ['server', null],
      ['server_clustered', null],
      ['server_event_mode', null],
      ['server_name', null],
      ['server_pid', null],
      ['server_version', null],
      ['storage', null],
      ['storage_version', null],
      ['storage_supported_drivers', null],
    ]),
  ],
]);
