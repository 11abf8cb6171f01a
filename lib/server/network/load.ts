/** Network type name to driver: one instance per type, per daemon. */
import { badRequest } from '../errors';
import type { Logger } from '../log';
import type { DnsmasqSupervisor } from './dnsmasq';
import { BRIDGE_INFO, BridgeDriver } from './drivers/bridge/driver';
import type { NetworkDriver, NetworkDriverInfo } from './interface';

/** What every network driver may need from the daemon. */
export interface NetworkDriverDeps {
  varDir: string;
  log: Logger;
  debug: boolean;
  dnsmasq: DnsmasqSupervisor;
}

const FACTORIES: Record<string, (deps: NetworkDriverDeps) => NetworkDriver> = {
  bridge: (deps) => new BridgeDriver(deps),
};

const INFOS: Record<string, NetworkDriverInfo> = {
  bridge: BRIDGE_INFO,
};

/** What a network type offers, without building its driver (device validation uses it). */
export function networkInfo(type: string): NetworkDriverInfo | undefined {
  return INFOS[type];
}

/** The managed network types this server implements. */
export const NETWORK_TYPES = Object.keys(FACTORIES);

/** Builds the driver of a type, or throws a 400 naming the type. */
export function loadNetworkDriver(type: string, deps: NetworkDriverDeps): NetworkDriver {
  const f = FACTORIES[type];
  if (!f) throw badRequest(`Network type "${type}" is not supported (supported: ${NETWORK_TYPES.join(', ')})`);
  return f(deps);
}
