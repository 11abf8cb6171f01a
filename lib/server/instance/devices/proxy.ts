/**
 * `proxy` devices: forward connections between the host and the container
 * through a relay process per device (`incusd-helper forkproxy`, epoll in
 * C, no Node in the data path). bind=host (default) listens on the host and
 * connects from inside the container's network namespace; bind=instance
 * the other way round. tcp and unix streams mix freely and may feed a udp
 * target; a udp listener goes to udp.
 * The relay's PID file ($INCUS_DIR/devices/<instance>/proxy.<device>) lets
 * the daemon stop it, and find it again after a restart. The relay also
 * exits by itself when the container's init does. nat=true uses no relay:
 * DNAT rules send the listen address to the instance (proxy-nat.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ForkproxySpec, startForkproxy } from '../../../native/forkproxy';
import { isBool, oneOf } from '../config/validators';
import { parseIp } from '../../network/cidr';
import { isTrue } from '../config-keys';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, deviceError, isOctalMode, isUnixId, octalMode } from './options';
import { encodeDeviceName } from './paths';
import { livePid, stopPidFile, writePidFile } from './pid-file';
import { type ProxyAddress, parseProxyAddress, proxyPairProblem, proxyPairs } from './proxy-address';
import { proxyNatProblem, startProxyNat, stopProxyNat } from './proxy-nat';

const addressRule = (v: string): string | null => {
  try {
    parseProxyAddress(v);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
};

const RULES = {
  listen: addressRule,
  connect: addressRule,
  bind: oneOf('host', 'instance', 'guest', 'container'),
  mode: isOctalMode,
  uid: isUnixId,
  gid: isUnixId,
  'security.uid': isUnixId,
  'security.gid': isUnixId,
  nat: isBool,
  proxy_protocol: isBool,
};

/** Whether two IP literals name the same address (`::1` and `0::1` do). */
function sameIp(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== null && y !== null && x.family === y.family && x.addr === y.addr;
}

/** Whether the listening side is the instance (Incus also spells it guest or container). */
function bindsInstance(config: Record<string, string>): boolean {
  return ['instance', 'guest', 'container'].includes(config.bind ?? '');
}

function pidFile(ctx: DeviceStartContext): string {
  return join(ctx.devicesDir, `proxy.${encodeDeviceName(ctx.name)}`);
}

/** What forkproxy is started with for this device, the container's init being `pid`. */
export function proxySpec(ctx: Pick<DeviceStartContext, 'config' | 'name' | 'logDir'>, pid: number): ForkproxySpec {
  const { config } = ctx;
  const listen: ProxyAddress = parseProxyAddress(config.listen);
  const connect: ProxyAddress = parseProxyAddress(config.connect);
  const inside = bindsInstance(config);
  return {
    listenPid: inside ? pid : 0,
    connectPid: inside ? 0 : pid,
    logPath: join(ctx.logDir, `proxy.${encodeDeviceName(ctx.name)}.log`),
    uid: Number(config.uid || 0),
    gid: Number(config.gid || 0),
    mode: octalMode(config.mode, 0o644),
    securityUid: Number(config['security.uid'] || 0),
    securityGid: Number(config['security.gid'] || 0),
    pairs: proxyPairs(listen, connect),
  };
}

async function start(ctx: DeviceStartContext): Promise<void> {
  if (isTrue(ctx.config.nat)) {
    await startProxyNat(ctx).catch((err: Error) => {
      throw new Error(`Failed to start device "${ctx.name}": ${err.message}`);
    });
    return;
  }
  await mkdir(ctx.devicesDir, { recursive: true, mode: 0o711 });
  await mkdir(ctx.logDir, { recursive: true, mode: 0o700 });
  await stopPidFile(pidFile(ctx));
  const pid = await startForkproxy(proxySpec(ctx, ctx.pid!));
  await writePidFile(pidFile(ctx), pid);
}

async function stop(ctx: DeviceStartContext): Promise<void> {
  // Whatever the config says now: a stored value may have changed under the running device.
  await stopProxyNat(ctx);
  await stopPidFile(pidFile(ctx));
}

export const proxyDevice: DeviceDriver = {
  type: 'proxy',
  validate(name, config, ctx) {
    checkDeviceOptions(name, config, RULES);
    for (const k of ['listen', 'connect']) if (!config[k]) throw deviceError(name, `Missing "${k}"`);
    const listen = parseProxyAddress(config.listen);
    const connect = parseProxyAddress(config.connect);
    const problem = proxyPairProblem(listen, connect);
    if (problem) throw deviceError(name, problem);
    const clash = listen.type === 'unix' ? undefined : ctx.forwardListenAddresses?.find((a) => sameIp(a, listen.address));
    if (clash !== undefined) throw deviceError(name, `Listen address "${clash}" conflicts with existing network forward`);
    const namedUnix = listen.type === 'unix' && !listen.address.startsWith('@');
    for (const k of ['uid', 'gid', 'mode']) {
      if (config[k] && !namedUnix) throw deviceError(name, `Invalid value for "${k}": Only proxy devices for non-abstract unix sockets can carry uid, gid, or mode properties`);
    }
    if (isTrue(config.proxy_protocol) && (connect.type !== 'tcp' || isTrue(config.nat))) {
      throw deviceError(name, 'The PROXY header can only be sent to tcp servers in non-nat mode');
    }
    if (isTrue(config.nat)) {
      const natProblem = proxyNatProblem(config, listen, connect);
      if (natProblem) throw deviceError(name, natProblem);
    }
    if (isTrue(config.proxy_protocol)) throw deviceError(name, 'Invalid value for "proxy_protocol": The PROXY protocol header is not supported yet');
  },
  postStart: start,
  stop,
  hotplug: start,
  hotunplug: stop,
  async resume(ctx) {
    // NAT rules stay in the kernel over a daemon restart; a dynamic target is followed again.
    if (isTrue(ctx.config.nat) || (await livePid(pidFile(ctx))) === null) await start(ctx);
  },
};
