/** Facts about the host and this server for `GET /1.0`, computed once at start-up. */
import { readFileSync } from 'node:fs';
import { hostname, release, userInfo } from 'node:os';
import type { Server, ServerEnvironment } from '../api/server';
import { API_EXTENSIONS } from './api-extensions';
import { supportedStorageDrivers } from './storage/load';

function osRelease(): { name: string; version: string } {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const get = (k: string): string => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1] ?? '';
    return { name: get('NAME'), version: get('VERSION_ID') };
  } catch {
    return { name: '', version: '' };
  }
}

function kernelFeatures(): Record<string, string> {
  const has = (p: string): string => {
    try {
      readFileSync(p);
      return 'true';
    } catch {
      return 'false';
    }
  };
  return {
    idmapped_mounts: 'true',
    netnsid_getifaddrs: 'true',
    pidfds: 'true',
    seccomp_listener: 'true',
    seccomp_listener_continue: 'true',
    shiftfs: 'false',
    uevent_injection: 'true',
    unpriv_binfmt: 'false',
    unpriv_fscaps: 'true',
    cgroup2: has('/sys/fs/cgroup/cgroup.controllers'),
  };
}

export interface ServerFacts {
  environment: Omit<ServerEnvironment, 'project'>;
}

/**
 * drivers: name and version of each instance driver, joined as Incus joins
 * them (`lxc | qemu`, `5.0.2 | 7.2.19`).
 */
export function gatherServerFacts(version: string, drivers: { name: string; version: string }[], clusterName = ''): ServerFacts {
  const os = osRelease();
  const kernel = release();
  return {
    environment: {
      addresses: [],
      architectures: ['x86_64', 'i686'],
      certificate: '',
      certificate_fingerprint: '',
      driver: drivers.map((d) => d.name).join(' | '),
      driver_version: drivers.map((d) => d.version).join(' | '),
      firewall: 'nftables',
      kernel: 'Linux',
      kernel_architecture: 'x86_64',
      kernel_features: kernelFeatures(),
      kernel_version: kernel,
      lxc_features: {
        cgroup2: 'true',
        idmapped_mounts_v2: 'true',
        mount_injection_file: 'true',
        network_gateway_device_route: 'true',
        network_ipvlan: 'true',
        network_l2proxy: 'true',
        network_phys_macvlan_mtu: 'true',
        network_veth_router: 'true',
        pidfd: 'true',
        seccomp_allow_deny_syntax: 'true',
        seccomp_notify: 'true',
        seccomp_proxy_send_notify_fd: 'true',
      },
      os_name: os.name,
      os_version: os.version,
      server: 'incus',
      server_clustered: clusterName !== '',
      server_event_mode: 'full-mesh',
      server_name: clusterName || hostname(),
      server_pid: process.pid,
      server_version: version,
      storage: 'dir',
      storage_version: '1',
      storage_supported_drivers: supportedStorageDrivers().map((d) => ({ Name: d, Version: '1', Remote: false })),
    },
  };
}

/** Who is asking, for `auth_user_name` / `auth_user_method`. */
export interface Requestor {
  /** `unix`, or `tls` with the client certificate's fingerprint as user name. */
  method: 'unix' | 'tls';
  name: string;
}

/** What the trusted `GET /1.0` adds to the facts: the keypair and where the API listens. */
export interface ServerNetwork {
  certificate: string;
  certificateFingerprint: string;
  addresses: string[];
}

export function serverObject(facts: ServerFacts, config: Record<string, string>, project: string, net?: ServerNetwork, who?: Requestor): Server {
  return {
    config,
    api_extensions: API_EXTENSIONS,
    api_status: 'stable',
    api_version: '1.0',
    auth: 'trusted',
    public: false,
    auth_methods: ['tls'],
    auth_user_name: who?.name ?? userInfo().username,
    auth_user_method: who?.method ?? 'unix',
    environment: {
      ...facts.environment,
      ...(net ? { addresses: net.addresses, certificate: net.certificate, certificate_fingerprint: net.certificateFingerprint } : {}),
      project,
    },
  };
}

/**
 * `GET /1.0` for an untrusted caller, as Incus's ServerUntrusted: no
 * extensions, no environment, only the `user.ui.*` config keys.
 */
export function untrustedServerObject(config: Record<string, string>): Record<string, unknown> {
  return {
    config: Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith('user.ui.'))),
    api_extensions: null,
    api_status: 'stable',
    api_version: '1.0',
    auth: 'untrusted',
    public: false,
    auth_methods: ['tls'],
  };
}
