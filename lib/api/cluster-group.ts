/** Cluster groups (`/1.0/cluster/groups`), as Incus's shared/api/cluster_group.go. */

export interface ClusterGroupPut {
  config: Record<string, string>;
  description: string;
  members: string[];
}

export interface ClusterGroup extends ClusterGroupPut {
  name: string;
  used_by: string[];
}

/** `POST /1.0/cluster/groups`. */
export interface ClusterGroupsPost extends ClusterGroupPut {
  name: string;
}

/** `POST /1.0/cluster/groups/{name}`: rename. */
export interface ClusterGroupPost {
  name: string;
}
