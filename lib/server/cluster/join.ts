/**
 * Joining an existing cluster (`PUT /1.0/cluster` with a cluster_address,
 * Incus's clusterPutJoin): checks made before the operation starts, then,
 * in the operation, this host's server certificate is added to the
 * cluster's trust store with the join token (single use), the member it
 * talks to accepts it (a nodes row, its raft id, the cluster keypair), and
 * it becomes a member: the cluster certificate served, its dqlite node
 * added to raft, its database swapped for the cluster's.
 */
import type { ClusterMemberConfigKey, ClusterPut } from '../../api/cluster';
import type { Operation } from '../../api/operation';
import { API_EXTENSIONS } from '../api-extensions';
import { parseListenAddress } from '../auth/https-listener';
import { migrations } from '../db/migrations';
import { badRequest } from '../errors';
import type { DaemonState } from '../state';
import type { AcceptRequest, AcceptResponse } from './accept';
import { canonicalAddress, type RaftNode, type RaftRole } from './local-store';
import { createJoinedResources } from './join-resources';
import { memberRequest, metadataOf } from './member-client';

const ROLE_NAMES: RaftRole[] = ['voter', 'standby', 'spare'];

/** Whether `address` is served by a listener on `listen` (Incus's IsAddressCovered, for host:port forms). */
function isCovered(address: string, listen: string): boolean {
  const a = parseListenAddress(address);
  const l = parseListenAddress(listen);
  if (a.port !== l.port) return false;
  const host = l.host ?? '';
  return host === '' || host === '0.0.0.0' || host === '::' || canonicalAddress(address) === canonicalAddress(listen);
}

/** Makes sure this host listens on `serverAddress` and records it as cluster.https_address. */
async function setClusterAddress(s: DaemonState, serverAddress: string): Promise<void> {
  const current = s.cluster.local.clusterAddress;
  if (current !== '') {
    if (!isCovered(serverAddress, current)) throw badRequest(`Server address "${serverAddress}" is not covered by "${current}" from "cluster.https_address"`);
    if (!s.cluster.local.config()['core.https_address']) s.cluster.local.setConfig({ 'core.https_address': (await s.db.config.all())['core.https_address'] ?? null });
    return;
  }
  const config = await s.db.config.all();
  const httpsAddress = config['core.https_address'] ?? '';
  if (httpsAddress === '') {
    // No network yet: listen on the address given, for the API and the cluster alike.
    await s.https.apply(serverAddress);
    await s.db.config.replace({ ...config, 'core.https_address': serverAddress });
  } else if (!isCovered(serverAddress, httpsAddress)) {
    throw badRequest(`Server address "${serverAddress}" is not covered by "${httpsAddress}" from "core.https_address"`);
  }
  // core.https_address is this member's own once clustered (the cluster database holds another's).
  s.cluster.local.setConfig({ 'cluster.https_address': serverAddress, 'core.https_address': httpsAddress || serverAddress });
}

/** Checks the request and starts the join operation. */
export async function startJoin(s: DaemonState, req: ClusterPut): Promise<Operation> {
  s.log.info('Joining cluster', { serverName: req.server_name });
  if (!req.cluster_certificate) throw badRequest('No target cluster member certificate provided');
  if (s.cluster.clustered) throw badRequest('This server is already clustered');
  const serverAddress = req.server_address ?? '';
  if (serverAddress === '') throw badRequest('No server address provided for this member');
  const host = parseListenAddress(serverAddress).host ?? '';
  if (host === '' || host === '0.0.0.0' || host === '::') throw badRequest(`Invalid server address "${serverAddress}": Wildcard addresses aren't allowed`);
  await setClusterAddress(s, serverAddress);

  return s.ops.start({
    description: 'Joining cluster',
    resources: { cluster: [] },
    run: async () => joinCluster(s, req.server_name, canonicalAddress(req.cluster_address ?? ''), req.cluster_certificate!, req.cluster_token ?? '', req.member_config ?? []),
  });
}

async function joinCluster(s: DaemonState, name: string, target: string, targetCert: string, token: string, memberConfig: ClusterMemberConfigKey[]): Promise<void> {
  const self = { certPem: s.keypair.certPem, keyPem: s.keypair.keyPem };
  const call = (method: string, path: string, body?: unknown): ReturnType<typeof memberRequest> => memberRequest(target, self, targetCert, method, path, body);

  if (token !== '') {
    // Our server certificate joins the cluster's trust store; the token is used up.
    let reply;
    try {
      reply = await call('POST', '/1.0/certificates', { type: 'server', name, certificate: s.keypair.certPem, trust_token: token });
    } catch (err) {
      throw new Error(`Failed to setup cluster trust: Failed to connect to target cluster node "${target}": ${(err as Error).message}`);
    }
    if (reply.status >= 400 && reply.status !== 409) throw new Error(`Failed to setup cluster trust: Failed to add server cert to cluster: ${reply.body.error ?? `HTTP ${reply.status}`}`);
  }

  const members = metadataOf<{ server_name: string }[]>(await call('GET', '/1.0/cluster/members?recursion=1'));
  if (members.some((m) => m.server_name === name)) throw new Error(`The cluster already has a member with name: ${name}`);

  const address = s.cluster.local.clusterAddress;
  const arch = (await s.db.members.list())[0]?.arch ?? 0;
  const accept: AcceptRequest = { name, address, schema: migrations.length, api: API_EXTENSIONS.length, architecture: arch };
  let accepted: AcceptResponse;
  try {
    accepted = metadataOf<AcceptResponse>(await call('POST', '/internal/cluster/accept', accept));
  } catch (err) {
    throw new Error(`Failed request to add member: ${(err as Error).message}`);
  }
  const nodes: RaftNode[] = accepted.raft_nodes.map((n) => ({ id: n.id, address: n.address, role: ROLE_NAMES[n.role] ?? 'spare', name: n.name }));
  const cert = { certPem: accepted.public_key, keyPem: accepted.private_key };

  // Members pin the cluster certificate: ours must be served before the leader dials our node.
  s.https.useCertificate(cert);
  try {
    await s.cluster.join(name, cert, nodes, async () => {
      s.db.node.id = await s.cluster.nodeId(s.db);
      await s.trust.reload();
      await createJoinedResources(s, memberConfig);
    });
  } catch (err) {
    if (!s.cluster.clustered) s.https.useCertificate(self);
    throw err;
  }
  s.facts.environment.server_clustered = true;
  s.facts.environment.server_name = name;
  s.events.setLocation(name);
  s.events.lifecycle('cluster-member-added', `/1.0/cluster/members/${encodeURIComponent(name)}`);
}
