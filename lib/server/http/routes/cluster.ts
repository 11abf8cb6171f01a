/**
 * `/1.0/cluster` and `/1.0/cluster/members`: the cluster's state, enabling
 * clustering on a standalone host (bootstrap, as an operation), and the
 * members with their database roles as Incus reports them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { Cluster, ClusterMember, ClusterMemberPut, ClusterMembersPost, ClusterPut } from '../../../api/cluster';
import type { MemberRow } from '../../db/members';
import { parseListenAddress } from '../../auth/https-listener';
import { acceptMember, type AcceptRequest } from '../../cluster/accept';
import { startJoin } from '../../cluster/join';
import { memberRequest } from '../../cluster/member-client';
import { memberHealth, offlineThresholdOf } from '../../cluster/heartbeat';
import { createJoinToken, DEFAULT_JOIN_TOKEN_EXPIRY } from '../../cluster/join-tokens';
import { badRequest, notFound, StatusError } from '../../errors';
import { apiNameProblem } from '../../names/api-name';
import { architectureName } from '../../migration/arch';
import { asyncResponse, syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { checkIfMatch, recursionOf, setEtag } from '../request';
import { validateMemberConfig } from '../../cluster/member-config';
import { disableClustering, removeMember } from '../../cluster/remove';
import { setMemberGroups } from '../../cluster/groups';
import { checkEvacuateMode, evacuateMember, restoreMember } from '../../cluster/evacuate';
import { inMaintenance, MEMBER_STATE } from '../../cluster/member-state';

/** A member's status and message: under maintenance, else from its heartbeat (Incus's NodeInfo.ToAPI). */
function memberStatus(row: MemberRow, offlineThreshold: number): { status: string; message: string } {
  if (!inMaintenance(row.state)) return memberHealth(row.heartbeat, offlineThreshold);
  const status = row.state === MEMBER_STATE.evacuated ? 'Evacuated' : row.state === MEMBER_STATE.evacuating ? 'Evacuating' : 'Restoring';
  return { status, message: 'Unavailable due to maintenance' };
}

type NameParams = { Params: { name: string } };

/** Who leads the database and the raft members' roles (for `roles`), and the offline threshold (for `status`). */
interface MembersView {
  leader: string;
  raft: { address: string; role: string }[];
  /** `cluster.offline_threshold`, in seconds. */
  offlineThreshold: number;
}

/** Member names of this prefix address cluster groups (Incus's targetGroupPrefix). */
const TARGET_GROUP_PREFIX = '@';

const memberUrl = (name: string): string => `/1.0/cluster/members/${encodeURIComponent(name)}`;

/** Whether a listen address has no host (Incus's IsWildCardAddress, after its canonical form). */
function isWildcard(address: string): boolean {
  if (address === '') return false;
  const host = parseListenAddress(address).host ?? '';
  return host === '' || host === '0.0.0.0' || host === '::';
}

export function registerCluster(app: FastifyInstance, s: DaemonState): void {
  const cluster = s.cluster;

  /** Incus's NodeInfo.ToAPI for one row: roles from the raft nodes this member knows and the leader. */
  const toApi = (row: MemberRow, { leader, raft: nodes, offlineThreshold }: MembersView, config: Record<string, string> = {}, groups: string[] = []): ClusterMember => {
    const raft = nodes.find((n) => n.address === row.address);
    const roles: string[] = [];
    if (leader !== '' && leader === row.address) roles.push('database-leader');
    if (raft?.role === 'voter') roles.push('database');
    if (raft?.role === 'standby') roles.push('database-standby');
    // Go's field order (ClusterMemberPut inline first), as Incus's JSON has it.
    return {
      roles,
      failure_domain: 'default',
      description: row.description,
      config,
      groups,
      server_name: row.name,
      url: `https://${row.address}`,
      database: roles.length > 0,
      ...memberStatus(row, offlineThreshold),
      architecture: architectureName(row.arch),
    };
  };
  /** The leader and the raft members as dqlite knows them now (the local store's copy when it cannot be asked). */
  const membersView = async (): Promise<MembersView> => {
    // A standalone host writes no heartbeats: never offline.
    if (!cluster.clustered) return { leader: '', raft: [], offlineThreshold: Infinity };
    const offlineThreshold = offlineThresholdOf(await s.db.config.all());
    const [leader, raft] = await Promise.all([cluster.gateway.leaderAddress().catch(() => ''), cluster.gateway.members().catch(() => cluster.local.raftNodes())]);
    return { leader, raft, offlineThreshold };
  };

  app.get('/1.0/cluster', async (_req, reply) => {
    const info: Cluster = { server_name: cluster.serverName, enabled: cluster.clustered, member_config: [] };
    setEtag(reply, info);
    return syncResponse(info);
  });

  app.put('/1.0/cluster', async (req, reply) => {
    const body = (req.body ?? {}) as Partial<ClusterPut>;
    const name = body.server_name ?? '';
    const enabled = body.enabled === true;
    if (name === '' && enabled) throw badRequest('ServerName is required when enabling clustering');
    if (name !== '' && !enabled) throw badRequest('ServerName must be empty when disabling clustering');
    if (name.startsWith(TARGET_GROUP_PREFIX)) throw badRequest(`ServerName may not start with "${TARGET_GROUP_PREFIX}"`);
    // Disabling: what a member that removed this one asks of it (Incus's clusterPutDisable).
    if (!enabled) {
      if (!cluster.clustered) throw badRequest('This server is not clustered');
      await disableClustering(s);
      return syncResponse(null);
    }
    if ((body.cluster_address ?? '') !== '') {
      const join = await startJoin(s, { ...body, server_name: name, enabled });
      return reply.code(202).header('Location', `/1.0/operations/${join.id}`).send(asyncResponse(join));
    }

    // No cluster.https_address yet: core.https_address becomes it (unless it has no host).
    if (cluster.local.clusterAddress === '') {
      const httpsAddress = (await s.db.config.all())['core.https_address'] ?? '';
      if (isWildcard(httpsAddress)) {
        throw new Error(`Cannot use wildcard core.https_address "" for cluster.https_address. Please specify a new cluster.https_address or core.https_address`);
      }
      cluster.local.setConfig({ 'cluster.https_address': httpsAddress });
    }

    // core.https_address becomes this member's own once clustered.
    cluster.local.setConfig({ 'core.https_address': (await s.db.config.all())['core.https_address'] ?? null });
    s.log.info('Bootstrapping cluster', { serverName: name });
    const op = s.ops.start({
      description: 'Creating bootstrap node',
      resources: { cluster: [] },
      run: async (ctx) => {
        await cluster.bootstrap(name, () => s.db.members.bootstrap(name, cluster.local.clusterAddress));
        s.facts.environment.server_clustered = true;
        s.facts.environment.server_name = name;
        s.events.setLocation(name);
        ctx.setMetadata({ certificate: s.keypair.certPem });
        s.events.lifecycle('cluster-enabled', memberUrl(name));
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.get('/1.0/cluster/members', async (req) => {
    const rows = await s.db.members.list();
    if (recursionOf(req) === 0) return syncResponse(rows.map((r) => memberUrl(r.name)));
    const view = await membersView();
    return syncResponse(await Promise.all(rows.map(async (r) => toApi(r, view, await s.db.members.config(r.id), await s.db.clusterGroups.groupsOf(r.id)))));
  });

  app.post('/1.0/cluster/members', async (req, reply) => {
    const name = ((req.body ?? {}) as Partial<ClusterMembersPost>).server_name ?? '';
    const why = apiNameProblem(name);
    if (why) throw badRequest(`Invalid cluster member name: ${why}`);
    if (!cluster.clustered) throw badRequest('This server is not clustered');
    const config = await s.db.config.all();
    const view = await membersView();
    // A joining server is given the members that hold the database.
    const addresses: string[] = [];
    for (const row of await s.db.members.list()) {
      if (row.name === name) throw new StatusError(500, `The cluster already has a member with name: ${name}`);
      const roles = toApi(row, view).roles;
      if (roles.includes('database') || roles.includes('database-standby')) addresses.push(row.address);
    }
    if (addresses.length < 1) throw new StatusError(500, 'There are no online cluster members');
    const op = createJoinToken(s.ops, {
      serverName: name,
      fingerprint: s.keypair.fingerprint,
      addresses,
      expiry: config['cluster.join_token_expiry'] ?? DEFAULT_JOIN_TOKEN_EXPIRY,
    });
    s.events.lifecycle('cluster-token-created', '/1.0/cluster/members');
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  /** The member as the API shows it and its writable part (what its ETag covers); 404 when there is none. */
  const loadMember = async (name: string): Promise<{ row: MemberRow; member: ClusterMember; put: ClusterMemberPut }> => {
    const row = await s.db.members.get(name);
    if (!row) throw notFound('Cluster member not found');
    const member = toApi(row, await membersView(), await s.db.members.config(row.id), await s.db.clusterGroups.groupsOf(row.id));
    return { row, member, put: { roles: member.roles, failure_domain: member.failure_domain, description: member.description, config: member.config, groups: member.groups } };
  };

  app.get<NameParams>('/1.0/cluster/members/:name', async (req, reply) => {
    const { member, put } = await loadMember(req.params.name);
    setEtag(reply, put);
    return syncResponse(member);
  });

  // Incus's updateClusterNode: roles and failure domain are checked; description, config and groups are stored.
  const updateMember = async (name: string, req: FastifyRequest, isPatch: boolean): Promise<unknown> => {
    const { row, member, put } = await loadMember(name);
    checkIfMatch(req, put);
    const body = (req.body ?? {}) as Partial<ClusterMemberPut>;
    const roles = body.roles ?? [];
    if (member.roles.includes('database') && !roles.includes('database')) throw badRequest('The "database" role cannot be dropped at this time');
    if (!member.roles.includes('database') && roles.includes('database')) throw badRequest('The "database" role cannot be added at this time');
    if ((body.groups ?? []).length === 0) throw badRequest('Cluster members need to belong to at least one group');
    const given = body.config ?? null;
    validateMemberConfig(given ?? {});
    const config = isPatch ? { ...member.config, ...(given ?? {}) } : { ...(given ?? {}) };
    await s.db.transaction(async (tx) => {
      await tx.members.update(row.id, body.description ?? '', config);
      await setMemberGroups(tx, row.id, member.groups, body.groups ?? []);
    });
    s.events.lifecycle('cluster-member-updated', memberUrl(name));
    return syncResponse(null);
  };
  app.put<NameParams>('/1.0/cluster/members/:name', async (req) => updateMember(req.params.name, req, false));
  app.patch<NameParams>('/1.0/cluster/members/:name', async (req) => updateMember(req.params.name, req, true));

  app.post<NameParams>('/1.0/cluster/members/:name', async (req) => {
    const oldName = req.params.name;
    const newName = ((req.body ?? {}) as { server_name?: string }).server_name ?? '';
    const why = apiNameProblem(newName);
    if (why) throw badRequest(`Invalid cluster member name: ${why}`);
    const row = await s.db.members.get(oldName);
    if (!row) throw notFound('Cluster member not found');
    // Another member renames itself, so that its local store learns its new name (Incus forwards the request).
    if (cluster.clustered && oldName !== cluster.serverName) {
      const cert = cluster.certificate;
      if (!cert) throw new Error('This member has no cluster certificate');
      const answer = await memberRequest(row.address, cert, cert.certPem, 'POST', memberUrl(oldName), { server_name: newName });
      if (answer.status >= 400 || answer.body.type === 'error') throw new StatusError(answer.status, answer.body.error ?? `HTTP ${answer.status}`);
      return syncResponse(null);
    }
    if (!(await s.db.members.rename(oldName, newName))) throw new StatusError(409, 'The record already exists');
    // This member's own name lives in its local store too (Incus's d.serverName).
    if (oldName === cluster.serverName) {
      cluster.renameSelf(newName);
      s.facts.environment.server_name = newName;
      s.events.setLocation(newName);
    }
    s.events.lifecycle('cluster-member-renamed', memberUrl(newName));
    return syncResponse(null);
  });

  // Incus's clusterNodeDelete: any member does it (dqlite's own client reaches the leader).
  app.delete<NameParams>('/1.0/cluster/members/:name', async (req) => {
    if (!cluster.clustered) throw badRequest('This server is not clustered');
    const force = Number((req.query as Record<string, string | undefined>).force ?? 0) === 1;
    await removeMember(s, req.params.name, force);
    return syncResponse(null);
  });

  // Evacuation and restore run on the member itself (another member passes the request on).
  app.post<NameParams>('/1.0/cluster/members/:name/state', async (req, reply) => {
    const name = req.params.name;
    if (!cluster.clustered) throw badRequest('This server is not clustered');
    if (!(await s.db.members.get(name))) throw notFound('Cluster member not found');
    if (name !== cluster.serverName) throw new StatusError(500, `Cluster member "${name}" cannot be reached`);
    const body = (req.body ?? {}) as { action?: string; mode?: string };
    const mode = body.mode ?? '';
    let op;
    if (body.action === 'evacuate') {
      checkEvacuateMode(mode);
      op = s.ops.start({ description: 'Evacuating cluster member', resources: { cluster: [] }, run: (ctx) => evacuateMember(s, mode, (text) => ctx.setMetadata({ evacuation_progress: text })) });
    } else if (body.action === 'restore') {
      op = s.ops.start({ description: 'Restoring cluster member', resources: { cluster: [] }, run: (ctx) => restoreMember(s, (text) => ctx.setMetadata({ evacuation_progress: text })) });
    } else {
      throw badRequest(`Unknown action "${body.action ?? ''}"`);
    }
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  // Another member fetching an image's files (metadata: the whole file of a unified image; rootfs: a split image's).
  app.get<{ Params: { fingerprint: string; part: string } }>('/internal/cluster/images/:fingerprint/:part', async (req, reply) => {
    const { fingerprint, part } = req.params;
    if (!/^[0-9a-f]{64}$/.test(fingerprint) || (part !== 'metadata' && part !== 'rootfs')) throw notFound('Image not found');
    const file = part === 'metadata' ? s.images.path(fingerprint) : s.images.rootfsPath(fingerprint);
    const size = file === null ? null : await stat(file).then((st) => st.size, () => null);
    if (file === null || size === null) throw notFound('Image file not found');
    return reply.type('application/octet-stream').header('Content-Length', size).send(createReadStream(file));
  });

  // Another member deleted an image: this member's files and image volumes of it go, unless a row still names it.
  app.delete<{ Params: { fingerprint: string } }>('/internal/cluster/images/:fingerprint', async (req) => {
    const fp = req.params.fingerprint;
    if (!cluster.clustered) throw badRequest('This server is not clustered');
    if (!/^[0-9a-f]{64}$/.test(fp)) throw notFound('Image not found');
    if ((await s.db.images.holders(fp)).length > 0) return syncResponse(null);
    await s.pools.dropLocalImageVolumes(fp);
    await rm(s.images.path(fp), { force: true });
    await rm(`${s.images.path(fp)}.rootfs`, { force: true });
    return syncResponse(null);
  });

  // A joining server, trusted through its join token, asks to be accepted (Incus's internalClusterPostAccept).
  app.post('/internal/cluster/accept', async (req) => {
    const body = (req.body ?? {}) as Partial<AcceptRequest>;
    if (!body.name) throw badRequest('No name provided');
    return syncResponse(await acceptMember(s.db, cluster, { name: body.name, address: body.address ?? '', schema: Number(body.schema ?? 0), api: Number(body.api ?? 0), architecture: Number(body.architecture ?? 0) }));
  });
}
