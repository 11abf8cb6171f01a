/** Network forwards (`/1.0/networks/{name}/forwards`): wire types with Incus's field names. */

/** One port rule of a forward. */
export interface NetworkForwardPort {
  description: string;
  /** `tcp` or `udp`. */
  protocol: string;
  /** Ports and ranges, e.g. `80,8000-8080`. */
  listen_port: string;
  target_port: string;
  target_address: string;
}

/** The writable part of a forward (PUT body). */
export interface NetworkForwardPut {
  config: Record<string, string>;
  description: string;
  ports: NetworkForwardPort[];
}

export interface NetworkForward extends NetworkForwardPut {
  listen_address: string;
  location: string;
}

/** POST /1.0/networks/{name}/forwards. */
export interface NetworkForwardsPost extends Partial<NetworkForwardPut> {
  listen_address: string;
}
