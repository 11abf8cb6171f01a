/**
 * One name check per kind of API object, each with the message Incus gives
 * at the same call site (cmd/incusd/*.go), plus the name at fault quoted
 * after Incus's prefix: `Invalid storage pool name "..": Names must ...`.
 * Every entry point that takes a name from a caller (create, rename, copy,
 * import, recover) goes through one of these, synchronously, before any
 * operation starts.
 */
import { badRequest } from '../errors';
import { apiNameProblem } from './api-name';
import { hostnameProblem } from './hostname';

/**
 * The name as it appears in a message: quoted, long ones cut, and control,
 * format and separator characters escaped (a U+2028 or U+202E would
 * otherwise break or reorder a log line).
 */
function quote(name: string): string {
  const cut = name.length > 80 ? `${name.slice(0, 80)}...` : name;
  return JSON.stringify(cut).replace(/[\p{C}\p{Z}]/gu, (c) => (c === ' ' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** Instances (Incus instance.ValidName): a DNS label, no snapshot delimiter. */
export function validateInstanceName(name: string): void {
  if (name.includes('/')) throw badRequest('The character "/" is reserved for snapshots');
  const why = hostnameProblem(name);
  if (why) throw badRequest(`Invalid instance name ${quote(name)}: ${why}`);
}

/** Instance snapshots (instance_snapshot.go, create and rename). */
export function validateInstanceSnapshotName(name: string): void {
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid snapshot name ${quote(name)}: ${why}`);
}

/** Storage pools (storage_pools.go). */
export function validatePoolName(name: string): void {
  if (name === '') throw badRequest('No name provided');
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid storage pool name ${quote(name)}: ${why}`);
}

/** Storage volumes (storage_volumes.go, create, rename, import). */
export function validateVolumeName(name: string): void {
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid storage volume name ${quote(name)}: ${why}`);
}

/** Storage volume snapshots (storage_volumes_snapshot.go, create and rename). */
export function validateVolumeSnapshotName(name: string): void {
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid storage volume snapshot name ${quote(name)}: ${why}`);
}

/** Profiles (profiles.go, create and rename). */
export function validateProfileName(name: string): void {
  if (name === '') throw badRequest('No name provided');
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid profile name ${quote(name)}: ${why}`);
}

/**
 * Networks (networks.go): the generic rule; each network driver adds its
 * own (a bridge's name is an interface name too). `rename` changes the
 * message for a missing name as Incus does.
 */
export function validateNetworkName(name: string, rename = false): void {
  if (name === '') throw badRequest(rename ? 'New network name not provided' : 'No name provided');
  if (!rename && name === 'none') throw badRequest("Invalid network name: 'none' is a reserved name");
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid network name ${quote(name)}: ${why}`);
}

/** Image aliases (images.go, create and rename): slashes allowed, never a path. */
export function validateImageAliasName(name: string): void {
  if (name === '') throw badRequest('Alias name and target are required');
  const why = apiNameProblem(name, true);
  if (why) throw badRequest(`Invalid image alias name ${quote(name)}: ${why}`);
}

/**
 * Instance backups: Incus (instance_backup.go) refuses only "/"; here a
 * backup is also a file named after it, so the API name rule applies too.
 */
export function validateBackupName(name: string): void {
  if (name.includes('/')) throw badRequest('Backup names may not contain slashes');
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid backup name ${quote(name)}: ${why}`);
}

/** Devices of instances and profiles (instance drivers' load.go): device names become file and mount names. */
export function validateDeviceName(name: string): void {
  const why = apiNameProblem(name);
  if (why) throw badRequest(`Invalid device name ${quote(name)}: ${why}`);
}
