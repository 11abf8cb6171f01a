/** Clustering (`/1.0/cluster`, `/1.0/cluster/members`), as Incus's shared/api/cluster.go. */

/** A member-specific key a joining server must provide (storage pools, networks). */
export interface ClusterMemberConfigKey {
  entity: string;
  name: string;
  key: string;
  value: string;
  description: string;
}

export interface Cluster {
  server_name: string;
  enabled: boolean;
  member_config: ClusterMemberConfigKey[];
}

/** `PUT /1.0/cluster`: enable (bootstrap or join) or disable clustering. */
export interface ClusterPut {
  server_name: string;
  enabled: boolean;
  cluster_address?: string;
  cluster_certificate?: string;
  server_address?: string;
  cluster_token?: string;
  member_config?: ClusterMemberConfigKey[];
}

export interface ClusterMemberPut {
  roles: string[];
  failure_domain: string;
  description: string;
  config: Record<string, string>;
  groups: string[];
}

export interface ClusterMember extends ClusterMemberPut {
  server_name: string;
  url: string;
  database: boolean;
  status: string;
  message: string;
  architecture: string;
}

/** `POST /1.0/cluster/members`: ask for a join token for a new member. */
export interface ClusterMembersPost {
  server_name: string;
}

/** What `incus cluster add` prints: base64 of this JSON (Incus's ClusterMemberJoinToken). */
export interface ClusterMemberJoinToken {
  server_name: string;
  fingerprint: string;
  addresses: string[];
  secret: string;
  expires_at: string;
}

/** The token string for a token's fields. */
export function encodeJoinToken(t: ClusterMemberJoinToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64');
}

/** A join token from a token operation's metadata (Incus's Operation.ToClusterJoinToken), or null when it is none. */
export function joinTokenOf(metadata: Record<string, unknown> | null | undefined): ClusterMemberJoinToken | null {
  const md = metadata ?? {};
  const { serverName, secret, fingerprint, addresses, expiresAt } = md;
  if (typeof serverName !== 'string' || typeof secret !== 'string' || typeof fingerprint !== 'string') return null;
  if (!Array.isArray(addresses) || !addresses.every((a) => typeof a === 'string') || typeof expiresAt !== 'string') return null;
  return { server_name: serverName, fingerprint, addresses: addresses as string[], secret, expires_at: expiresAt };
}

/** A join token string's fields, or null when it is none (Incus's JoinTokenDecode: base64 JSON naming a server). */
export function decodeJoinToken(token: string): ClusterMemberJoinToken | null {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString()) as Partial<ClusterMemberJoinToken>;
    if (typeof t !== 'object' || t === null || typeof t.server_name !== 'string' || t.server_name === '' || typeof t.secret !== 'string') return null;
    return { server_name: t.server_name, fingerprint: String(t.fingerprint ?? ''), addresses: Array.isArray(t.addresses) ? t.addresses.map(String) : [], secret: t.secret, expires_at: String(t.expires_at ?? '') };
  } catch {
    return null;
  }
}
