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
