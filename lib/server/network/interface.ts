/**
 * The network driver interface: one implementation per managed network
 * type (bridge now), each describing what it can do as data and owning
 * the host-side objects of its networks (links, addresses, dnsmasq,
 * firewall rules).
 */
import type { NetworkLease, NetworkState } from '../../api/network';
import type { Cidr } from './cidr';

/** What a driver offers, as data: callers never test the type name. */
export interface NetworkDriverInfo {
  readonly type: string;
  /** The `nictype` a NIC gets when it names a network of this type. */
  readonly nicType: string;
  /** Whether the driver hands out addresses (leases, static reservations). */
  readonly dhcp: boolean;
  /** Whether the driver can NAT its subnets (ipv4.nat / ipv6.nat). */
  readonly nat: boolean;
  /** Whether the network's name is also a host interface name. */
  readonly hostInterface: boolean;
}

/** One managed network as a driver sees it. */
export interface NetworkSpec {
  project: string;
  name: string;
  description: string;
  config: Record<string, string>;
}

/** A DHCP reservation / DNS name for one instance NIC on the network. */
export interface StaticHost {
  /** Instance name: the DNS name under dns.domain. */
  instance: string;
  project: string;
  /** Device name in the instance. */
  device: string;
  hwaddr: string;
  ipv4: string;
  ipv6: string;
  /** The NIC's untagged VLAN (`vlan`), "" for none: NICs on other VLANs do not clash. */
  vlan?: string;
}

/** Prefixes already taken, which `auto` addresses and checks must avoid. */
export interface AddressUse {
  /** Routes and addresses on the host, with where they come from. */
  host: { cidr: Cidr; what: string }[];
  /** Other managed networks' subnets. */
  networks: { cidr: Cidr; what: string }[];
}

export interface NetworkDriver {
  readonly info: NetworkDriverInfo;
  /** Throws a 400 when the name cannot be used. */
  validateName(name: string): void;
  /**
   * Replaces `auto` values (a free subnet is picked) and, at creation, fills
   * defaults first; returns the full config to store. An update fills no
   * defaults, so an unset address stays unset (as Incus).
   */
  fillConfig(name: string, config: Record<string, string>, use: AddressUse, stage: 'create' | 'update'): Record<string, string>;
  /** Throws a 400 naming the key at fault. */
  validate(name: string, config: Record<string, string>, use: AddressUse): void;
  /** Creates and configures the host side; also re-applies it (daemon start, update). */
  start(net: NetworkSpec, statics: StaticHost[]): Promise<void>;
  /** Applies a config change to a running network. */
  update(before: NetworkSpec, after: NetworkSpec, statics: StaticHost[]): Promise<void>;
  /** Removes everything the network made on the host. */
  delete(net: NetworkSpec): Promise<void>;
  /** Rewrites the DHCP reservations and DNS names, and reloads them. */
  setStatics(net: NetworkSpec, statics: StaticHost[]): Promise<void>;
  /** Runtime state of the network's host interface. */
  state(net: NetworkSpec): Promise<NetworkState>;
  /** Current leases (dynamic ones read back from the DHCP server). */
  leases(net: NetworkSpec, statics: StaticHost[]): Promise<NetworkLease[]>;
  /** The daemon stops: let go of supervised processes without stopping them. */
  release(): void;
}
