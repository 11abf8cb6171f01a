/**
 * The existing members' side of a join (Incus's internalClusterPostAccept
 * and cluster.Accept): a joining server whose certificate the join token
 * let into the trust store asks to be accepted; it gets a nodes row, whose
 * id is its raft id, the raft members with the role it will take, and the
 * cluster keypair it must serve with.
 */
import { badRequest } from '../errors';
import type { Db } from '../db';
import type { ClusterMember } from './member';

/** `POST /internal/cluster/accept` (Incus's internalClusterPostAcceptRequest). */
export interface AcceptRequest {
  name: string;
  address: string;
  schema: number;
  api: number;
  architecture: number;
}

/** A raft member as the answer lists it: dqlite's role number (0 voter, 1 stand-by, 2 spare). */
export interface AcceptedRaftNode {
  id: number;
  address: string;
  role: number;
  name: string;
}

export interface AcceptResponse {
  raft_nodes: AcceptedRaftNode[];
  public_key: string;
  private_key: string;
}

const ROLE_NUMBERS = { voter: 0, standby: 1, spare: 2 } as const;
/** Incus's defaults for cluster.max_voters and cluster.max_standby. */
const MAX_VOTERS = 3;
const MAX_STANDBY = 2;

export async function acceptMember(db: Db, member: ClusterMember, req: AcceptRequest): Promise<AcceptResponse> {
  if (!req.name) throw badRequest('Member name must not be empty');
  if (!req.address) throw badRequest('Member address must not be empty');
  const cert = member.certificate;
  if (!cert) throw badRequest('This server is not clustered');
  const rows = await db.members.list();
  if (rows.some((r) => r.name === req.name)) throw badRequest(`The cluster already has a member with name: ${req.name}`);
  if (rows.some((r) => r.address === req.address)) throw badRequest(`The cluster already has a member with address: ${req.address}`);
  const id = await db.members.create(req.name, req.address, req.schema, req.api, req.architecture);

  const names = new Map(rows.map((r) => [r.address, r.name]));
  const nodes = await member.gateway.members();
  const voters = nodes.filter((n) => n.role === 'voter').length;
  const standbys = nodes.filter((n) => n.role === 'standby').length;
  let role: number = ROLE_NUMBERS.spare;
  if (nodes.length > 1 && voters < MAX_VOTERS) role = ROLE_NUMBERS.voter;
  else if (standbys < MAX_STANDBY) role = ROLE_NUMBERS.standby;
  return {
    raft_nodes: [
      ...nodes.map((n) => ({ id: n.id, address: n.address, role: ROLE_NUMBERS[n.role as keyof typeof ROLE_NUMBERS] ?? ROLE_NUMBERS.spare, name: names.get(n.address) ?? '' })),
      { id, address: req.address, role, name: req.name },
    ],
    public_key: cert.certPem,
    private_key: cert.keyPem,
  };
}
