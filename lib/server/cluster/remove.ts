/**
 * Removing a member from the cluster (Incus's clusterNodeDelete with
 * cluster.Leave and cluster.Purge), and a removed member going back to
 * standalone (Incus's clusterPutDisable).
 */
import { hostname } from 'node:os';
import { notFound, StatusError } from '../errors';
import type { DaemonState } from '../state';
import { memberRequest } from './member-client';

const memberUrl = (name: string): string => `/1.0/cluster/members/${encodeURIComponent(name)}`;

/**
 * Takes member `name` out of raft and deletes its row. Without `force` it
 * must hold no instance and no image only it has, and it is told to go
 * back to standalone; with `force` its instances' rows go with it and it is
 * not contacted (it may be gone). Returns whether this member removed itself.
 */
export async function removeMember(s: DaemonState, name: string, force: boolean): Promise<boolean> {
  const cluster = s.cluster;
  const row = await s.db.members.get(name);
  if (!row) throw notFound('Cluster member not found');
  if (!force) {
    const why = await s.db.members.emptiness(row.id);
    if (why !== '') throw new StatusError(500, why);
    if ((await s.db.members.list()).length === 1) throw new StatusError(500, 'Member is the only member in the cluster');
  }
  s.log.info('Deleting member from cluster', { name, force: String(force) });
  try {
    await cluster.gateway.removeMember(row.address);
  } catch (err) {
    throw new StatusError(500, `Failed to leave the cluster: ${(err as Error).message}`);
  }
  try {
    await s.db.transaction((tx) => tx.members.purge(row.id));
  } catch (err) {
    throw new StatusError(500, `Failed to remove member from database: ${(err as Error).message}`);
  }
  s.events.lifecycle('cluster-member-removed', memberUrl(name));
  if (row.address === cluster.local.clusterAddress) {
    await disableClustering(s);
    return true;
  }
  if (!force) {
    const cert = cluster.certificate;
    if (!cert) throw new Error('This member has no cluster certificate');
    const answer = await memberRequest(row.address, cert, cert.certPem, 'PUT', '/1.0/cluster', { server_name: '', enabled: false }).catch((err: Error) => {
      throw new StatusError(500, `Failed to cleanup the member: ${err.message}`);
    });
    if (answer.status >= 400 || answer.body.type === 'error') throw new StatusError(500, `Failed to cleanup the member: ${answer.body.error ?? `HTTP ${answer.status}`}`);
  }
  return false;
}

/**
 * Makes this member standalone with an empty database (Incus restarts the
 * daemon on a reset database; here the running daemon switches in place):
 * its HTTPS listener serves the server keypair again, its facts and
 * trust follow the new database.
 */
export async function disableClustering(s: DaemonState): Promise<void> {
  s.log.info('Disabling clustering');
  const name = s.cluster.serverName;
  await s.cluster.leave(async () => {
    s.db.node.id = 1;
    s.https.useCertificate(s.keypair);
    await s.trust.reload();
  });
  s.facts.environment.server_clustered = false;
  s.facts.environment.server_name = hostname();
  s.events.setLocation('none');
  s.events.lifecycle('cluster-disabled', memberUrl(name));
}
