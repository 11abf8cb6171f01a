/** `/dev/incus` (guest API) wire types: what a process inside an instance sees. */

/** The writable part of `GET /1.0` (`PATCH /1.0`). */
export interface DevIncusPut {
  /** `Started` or `Ready`. */
  state: string;
}

/** `GET /1.0` on /dev/incus/sock. */
export interface DevIncusGet extends DevIncusPut {
  api_version: string;
  /** `container` or `virtual-machine`. */
  instance_type: string;
  /** The cluster member (the host name when not clustered). */
  location: string;
}

/** Metadata of a `config` event: a `user.*` key changed. */
export interface DevIncusConfigEvent {
  key: string;
  old_value: string;
  value: string;
}

/** Metadata of a `device` event. */
export interface DevIncusDeviceEvent {
  action: 'added' | 'updated' | 'removed';
  name: string;
  config: Record<string, string>;
}
