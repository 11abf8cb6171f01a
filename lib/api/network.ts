/** Networks (`/1.0/networks`): wire types with Incus's field names. */

/** The writable part of a network (PUT body). */
export interface NetworkPut {
  config: Record<string, string>;
  description: string;
}

export interface Network extends NetworkPut {
  name: string;
  /** `bridge` for managed bridges; `physical`, `bridge`, `loopback`, `unknown` for host interfaces. */
  type: string;
  used_by: string[];
  managed: boolean;
  /** `Created`, `Errored`, `Pending`...; empty for unmanaged interfaces. */
  status: string;
  locations: string[];
  project: string;
}

/** POST /1.0/networks. */
export interface NetworksPost extends Partial<NetworkPut> {
  name: string;
  /** Defaults to `bridge`. */
  type?: string;
}

/** POST /1.0/networks/{name}: rename. */
export interface NetworkPost {
  name: string;
}

/** One entry of GET /1.0/networks/{name}/leases. */
export interface NetworkLease {
  hostname: string;
  hwaddr: string;
  address: string;
  /** `static`, `dynamic` or `gateway`. */
  type: string;
  location: string;
}

/** One address a network holds (`GET /1.0/network-allocations`); `addresses` is one CIDR, named as Incus names it. */
export interface NetworkAllocation {
  addresses: string;
  hwaddr: string;
  nat: boolean;
  /** `network`, `instance`, `network-forward` or `network-load-balancer`. */
  type: string;
  used_by: string;
  network: string;
}

export interface NetworkStateAddress {
  family: string;
  address: string;
  netmask: string;
  scope: string;
}

export interface NetworkStateCounters {
  bytes_received: number;
  bytes_sent: number;
  packets_received: number;
  packets_sent: number;
}

export interface NetworkStateBridge {
  id: string;
  stp: boolean;
  forward_delay: number;
  vlan_default: number;
  vlan_filtering: boolean;
  upper_devices: string[];
}

/** GET /1.0/networks/{name}/state. */
export interface NetworkState {
  addresses: NetworkStateAddress[];
  counters: NetworkStateCounters | null;
  hwaddr: string;
  mtu: number;
  /** `up` or `down`. */
  state: string;
  /** `broadcast`, `loopback`, `point-to-point`. */
  type: string;
  bond: null;
  bridge: NetworkStateBridge | null;
  vlan: null;
  ovn: null;
}
