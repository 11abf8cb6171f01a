/**
 * An image's files copied from a member that holds them (Incus keeps image
 * files on the members that downloaded or used them, images_nodes, and
 * fetches them on first use elsewhere): the metadata file (the whole
 * tarball of a unified image) and, for a split image, its rootfs, streamed
 * to temporary files and moved into place, then this member is recorded
 * as holding them.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { ClusterCertificate } from '../db/dqlite';
import type { Db } from '../db';
import type { DaemonState } from '../state';
import { memberRequest } from './member-client';
import { FORWARDED_HEADER, options, pinCluster } from './member-proxy';

/** Downloads `path` from the member to `dest`; false when the member has no such file (404). */
function download(address: string, cert: ClusterCertificate, path: string, dest: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(options(address, cert, 'GET', path, { [FORWARDED_HEADER]: '1' }), (res) => {
      if (res.statusCode === 404) {
        res.resume();
        return resolve(false);
      }
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`HTTP ${res.statusCode} from ${address}`));
      }
      pipeline(res, createWriteStream(dest, { mode: 0o600 })).then(() => resolve(true), reject);
    });
    pinCluster(req, cert, address);
    req.on('error', reject);
    req.end();
  });
}

/** Asks the other members that held a deleted image's files to remove theirs (a member that cannot be reached keeps its copy: logged). */
export async function forgetImageOnMembers(s: DaemonState, fingerprint: string, holders: { address: string }[]): Promise<void> {
  const cert = s.cluster.certificate;
  if (!cert) return;
  const self = s.cluster.local.clusterAddress;
  for (const h of holders.filter((x) => x.address !== self)) {
    const reply = await memberRequest(h.address, cert, cert.certPem, 'DELETE', `/internal/cluster/images/${encodeURIComponent(fingerprint)}`, undefined, { [FORWARDED_HEADER]: '1' }).catch((err: Error) => err);
    if (reply instanceof Error || reply.status >= 400) {
      s.log.warn('Failed to remove image files on another member', { member: h.address, fingerprint, err: reply instanceof Error ? reply.message : String(reply.body.error) });
    }
  }
}

/** Copies the image's files to `file` (and `file`.rootfs) from the first member holding them that answers. */
export async function fetchImageFromMembers(db: Db, cert: ClusterCertificate, selfAddress: string, fingerprint: string, file: string): Promise<void> {
  const holders = (await db.images.holders(fingerprint)).filter((h) => h.address !== selfAddress);
  if (holders.length === 0) throw new Error(`No cluster member holds the files of image "${fingerprint}"`);
  const errors: string[] = [];
  for (const h of holders) {
    const tmp = `${file}.fetch-${process.pid}`;
    try {
      const base = `/internal/cluster/images/${encodeURIComponent(fingerprint)}`;
      if (!(await download(h.address, cert, `${base}/metadata`, tmp))) throw new Error('not found');
      const split = await download(h.address, cert, `${base}/rootfs`, `${tmp}.rootfs`);
      if (split) await rename(`${tmp}.rootfs`, `${file}.rootfs`);
      await rename(tmp, file);
      await db.images.heldHere(fingerprint);
      return;
    } catch (err) {
      errors.push(`${h.address}: ${(err as Error).message}`);
      await rm(tmp, { force: true });
      await rm(`${tmp}.rootfs`, { force: true });
    }
  }
  throw new Error(`Failed to fetch image "${fingerprint}" from the cluster: ${errors.join('; ')}`);
}
