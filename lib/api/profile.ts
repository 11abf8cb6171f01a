/** Profiles (`/1.0/profiles`). */
import type { ConfigMap, DevicesMap } from './instance';

export interface ProfilePut {
  config: ConfigMap;
  description: string;
  devices: DevicesMap;
}

export interface Profile extends ProfilePut {
  name: string;
  used_by: string[];
  project: string;
}

export interface ProfilesPost extends Partial<ProfilePut> {
  name: string;
}
