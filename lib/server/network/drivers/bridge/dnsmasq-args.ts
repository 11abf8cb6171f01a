/**
 * dnsmasq's command line for one bridge, and the files it reads: the
 * per-NIC host entries (reservations and names) and raw.dnsmasq. Pure
 * functions of the network's config, unit-tested.
 */
import { join } from 'node:path';
import { formatIp, nthAddress, parseCidr, parseIp } from '../../cidr';
import type { StaticHost } from '../../interface';
import { flag } from './config';
import { childPath } from '../../../names';

/** Where a bridge keeps dnsmasq's files ($INCUS_DIR/networks/<name>/). */
export interface DnsmasqPaths {
  dir: string;
  leases: string;
  hosts: string;
  raw: string;
  pid: string;
  log: string;
}

export function dnsmasqPaths(varDir: string, name: string): DnsmasqPaths {
  // rm -rf'd on delete: never anything but a child of networks/.
  const dir = childPath(join(varDir, 'networks'), name);
  return {
    dir,
    leases: join(dir, 'dnsmasq.leases'),
    hosts: join(dir, 'dnsmasq.hosts'),
    raw: join(dir, 'dnsmasq.raw'),
    pid: join(dir, 'dnsmasq.pid'),
    log: childPath(join(varDir, 'logs'), `dnsmasq.${name}.log`),
  };
}

/** Whether the bridge needs dnsmasq at all (an address to serve DHCP, RA or DNS on). */
export function usesDnsmasq(config: Record<string, string>): boolean {
  const on = (v: string | undefined): boolean => !!v && v !== 'none';
  return on(config['ipv4.address']) || on(config['ipv6.address']);
}

export interface DnsmasqOptions {
  /** Unprivileged user/group to drop to (null: stay root). */
  user: string | null;
  group: string | null;
  debug: boolean;
}

/** The argv (without the program) of the bridge's dnsmasq. */
export function dnsmasqArgs(name: string, config: Record<string, string>, paths: DnsmasqPaths, opts: DnsmasqOptions): string[] {
  const args = [
    '--keep-in-foreground',
    '--strict-order',
    '--bind-interfaces',
    '--except-interface=lo',
    '--pid-file=',
    '--no-ping',
    `--interface=${name}`,
    '--dhcp-rapid-commit',
    '--no-negcache',
  ];
  if (!opts.debug) args.push('--quiet-dhcp', '--quiet-dhcp6', '--quiet-ra');
  const servers = (config['dns.nameservers'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const dns4 = servers.filter((s) => parseIp(s)?.family === 4);
  const dns6 = servers.filter((s) => parseIp(s)?.family === 6);
  let dhcpFiles = false;
  const addDhcpFiles = (): void => {
    if (dhcpFiles) return;
    dhcpFiles = true;
    args.push('--dhcp-no-override', '--dhcp-authoritative', `--dhcp-leasefile=${paths.leases}`, `--dhcp-hostsfile=${paths.hosts}`);
  };

  const v4 = config['ipv4.address'] && config['ipv4.address'] !== 'none' ? parseCidr(config['ipv4.address']) : null;
  if (v4) {
    args.push(`--listen-address=${formatIp(4, v4.addr)}`);
    if (flag(config, 'ipv4.dhcp', true)) {
      addDhcpFiles();
      const gw = config['ipv4.dhcp.gateway'];
      if (gw) args.push(`--dhcp-option-force=3,${gw}`);
      if (servers.length > 0) args.push(dns4.length > 0 ? `--dhcp-option-force=6,${dns4.join(',')}` : '--dhcp-option-force=6');
      const mtu = config['bridge.mtu'];
      if (mtu && mtu !== '1500') args.push(`--dhcp-option-force=26,${mtu}`);
      const search = (config['dns.search'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (search.length > 0) args.push(`--dhcp-option-force=119,${search.join(',')}`);
      const expiry = config['ipv4.dhcp.expiry'] || '1h';
      const ranges = (config['ipv4.dhcp.ranges'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (ranges.length > 0) {
        for (const r of ranges) args.push('--dhcp-range', `${r.replace('-', ',')},${expiry}`);
      } else {
        args.push('--dhcp-range', `${formatIp(4, nthAddress(v4, 2))},${formatIp(4, nthAddress(v4, -2))},${expiry}`);
      }
    }
  }

  const v6 = config['ipv6.address'] && config['ipv6.address'] !== 'none' ? parseCidr(config['ipv6.address']) : null;
  if (v6) {
    args.push(`--listen-address=${formatIp(6, v6.addr)}`);
    const ra = flag(config, 'ipv6.ra', true);
    if (ra) args.push('--enable-ra');
    if (flag(config, 'ipv6.dhcp', true)) {
      addDhcpFiles();
      const expiry = config['ipv6.dhcp.expiry'] || '1h';
      if (flag(config, 'ipv6.dhcp.stateful', false)) {
        const ranges = (config['ipv6.dhcp.ranges'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (ranges.length > 0) {
          for (const r of ranges) args.push('--dhcp-range', `${r.replace('-', ',')},${v6.prefix},${expiry}`);
        } else {
          args.push('--dhcp-range', `${formatIp(6, nthAddress(v6, 2))},${formatIp(6, nthAddress(v6, -1))},${v6.prefix},${expiry}`);
        }
      } else if (ra) {
        args.push('--dhcp-range', `::,constructor:${name},ra-stateless,ra-names`);
      }
    } else if (ra) {
      args.push('--dhcp-range', `::,constructor:${name},ra-only`);
    }
    if (servers.length > 0) {
      args.push(dns6.length > 0 ? `--dhcp-option-force=option6:dns-server,[${dns6.join(',')}]` : '--dhcp-option-force=option6:dns-server');
    } else {
      args.push(`--dhcp-option-force=option6:dns-server,[${formatIp(6, v6.addr)}]`);
    }
  }

  if ((config['dns.mode'] || 'managed') !== 'none') {
    const domain = config['dns.domain'] || 'incus';
    args.push('-s', domain, '--interface-name', `_gateway.${domain},${name}`, '-S', `/${domain}/`);
  }
  args.push(`--conf-file=${paths.raw}`);
  if (opts.user) args.push('-u', opts.user);
  if (opts.group) args.push('-g', opts.group);
  return args;
}

/** The raw.dnsmasq file (always written, so dnsmasq never reads /etc/dnsmasq.conf). */
export function rawConfigText(config: Record<string, string>): string {
  return `${config['raw.dnsmasq'] ?? ''}\n`;
}

/** File name of a NIC's host entry in the hosts directory (`[<project>_]<instance>.<device>`). */
export function staticHostFile(h: Pick<StaticHost, 'project' | 'instance' | 'device'>): string {
  // Incus's StaticAllocationFileName: the project-prefixed instance name (none for default), then the device.
  return `${h.project === 'default' ? '' : `${h.project}_`}${h.instance}.${h.device}`.replace(/\//g, '-');
}

/**
 * A NIC's line in dnsmasq's dhcp-hostsfile: `hwaddr[,ipv4][,[ipv6]],name`.
 * Every NIC gets one so that `<instance>.<domain>` resolves; a static
 * address makes it a reservation.
 */
export function staticHostLine(h: StaticHost): string {
  const parts = [h.hwaddr];
  if (h.ipv4) parts.push(h.ipv4);
  if (h.ipv6) parts.push(`[${h.ipv6}]`);
  parts.push(h.instance);
  return `${parts.join(',')}\n`;
}
