/**
 * A preseed's `cluster` section, as Incus's admin init handles it: the
 * certificate read from cluster_certificate_path, a join token filling in
 * the server name, the member to talk to and its certificate (checked
 * against the token's fingerprint); then joining (`PUT /1.0/cluster` with
 * the cluster address, waited for) or, without one, bootstrapping after the
 * rest of the preseed is applied.
 */
import { readFile } from 'node:fs/promises';
import { decodeJoinToken } from '../api/cluster';
import type { IncusClient } from '../client/client';
import type { PreseedCluster } from './preseed-decode';

type ClusterApi = typeof import('../client/cluster');
const api = (): ClusterApi => require('../client/cluster') as ClusterApi;

/** Incus's CanonicalNetworkAddress with the default port: `host` is `host:8443`, IPv6 in brackets. */
function canonical(address: string): string {
  if (address === '') return '';
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracketed) return `[${bracketed[1]}]:${bracketed[2] ?? 8443}`;
  if ((address.match(/:/g) ?? []).length > 1) return `[${address}]:8443`;
  const [host, port] = address.split(':');
  return `${host}:${port || 8443}`;
}

/** Incus's fillClusterConfig; `say` prints a member that could not be reached. */
export async function fillClusterConfig(cluster: PreseedCluster, say: (line: string) => void): Promise<void> {
  if (cluster.cluster_certificate_path !== '') {
    cluster.cluster_certificate = await readFile(cluster.cluster_certificate_path, 'utf8').catch(() => {
      throw new Error(`Path ${cluster.cluster_certificate_path} doesn't exist`);
    });
  }
  if (cluster.cluster_token === '') return;
  const token = decodeJoinToken(cluster.cluster_token);
  if (!token) throw new Error('Invalid cluster join token: Invalid token');
  cluster.server_name = token.server_name;
  if (cluster.cluster_certificate !== '') return;
  const { fetchRemoteCertificate } = require('../client/remote-certificate') as typeof import('../client/remote-certificate');
  for (const address of token.addresses) {
    cluster.cluster_address = canonical(address);
    let cert;
    try {
      cert = await fetchRemoteCertificate(`https://${cluster.cluster_address}`);
    } catch (err) {
      say(`Error connecting to existing cluster member "${address}": ${(err as Error).message}\n`);
      continue;
    }
    if (cert.fingerprint !== token.fingerprint) throw new Error(`Certificate fingerprint mismatch between join token and cluster member "${address}"`);
    cluster.cluster_certificate = cert.pem;
    break;
  }
  if (cluster.cluster_certificate === '') throw new Error('Unable to connect to any of the cluster members specified in join token');
}

/** Whether the section asks to join an existing cluster (else a bootstrap, when enabled). */
export const isJoin = (cluster: PreseedCluster): boolean => cluster.cluster_address !== '' && cluster.server_address !== '';

/** `PUT /1.0/cluster` from the section, waited for (Incus's updateCluster); `failure` heads its error. */
async function putCluster(client: IncusClient, cluster: PreseedCluster, failure: string, etag?: string): Promise<void> {
  try {
    const op = await api().updateCluster(client, {
      server_name: cluster.server_name,
      enabled: cluster.enabled,
      cluster_address: canonical(cluster.cluster_address),
      cluster_certificate: cluster.cluster_certificate,
      server_address: canonical(cluster.server_address),
      cluster_token: cluster.cluster_token,
      member_config: [],
    }, { etag });
    await op.wait();
  } catch (err) {
    throw new Error(`${failure}: ${(err as Error).message}`);
  }
}

/** Joins the cluster the section names. */
export const joinCluster = (client: IncusClient, cluster: PreseedCluster): Promise<void> => putCluster(client, cluster, 'Failed to join cluster');

/** Bootstraps a cluster unless this server already is one (Incus's ApplyServerPreseed, its last step). */
export async function enableCluster(client: IncusClient, cluster: PreseedCluster): Promise<void> {
  let current;
  try {
    current = await api().getCluster(client);
  } catch (err) {
    throw new Error(`Failed to retrieve current cluster config: ${(err as Error).message}`);
  }
  if (!current.value.enabled) await putCluster(client, cluster, 'Failed to configure cluster', current.etag);
}
