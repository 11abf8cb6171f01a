/**
 * Profile writes (`/1.0/profiles`): create, patch, rename, delete. Reads and
 * the full replace (`getProfile*`, `updateProfile`) live on IncusClient.
 */
import type { ProfilePut, ProfilesPost } from '../api/profile';
import type { CallOptions, IncusClient, WriteOptions } from './client';

const profilePath = (name: string): string => `/1.0/profiles/${encodeURIComponent(name)}`;

/** POST /1.0/profiles. */
export async function createProfile(client: IncusClient, post: ProfilesPost, opts: CallOptions = {}): Promise<void> {
  await client.request('POST', '/1.0/profiles', { ...opts, body: post });
}

/** PATCH /1.0/profiles/{name}: merges `patch` into the profile (config and devices key by key). */
export async function patchProfile(
  client: IncusClient,
  name: string,
  patch: Partial<ProfilePut>,
  opts: WriteOptions = {},
): Promise<void> {
  await client.request('PATCH', profilePath(name), { ...opts, body: patch });
}

/** POST /1.0/profiles/{name} {name: newName}. */
export async function renameProfile(client: IncusClient, name: string, newName: string, opts: CallOptions = {}): Promise<void> {
  await client.request('POST', profilePath(name), { ...opts, body: { name: newName } });
}

/** DELETE /1.0/profiles/{name} (refused by the server while the profile is in use). */
export async function deleteProfile(client: IncusClient, name: string, opts: CallOptions = {}): Promise<void> {
  await client.request('DELETE', profilePath(name), opts);
}
