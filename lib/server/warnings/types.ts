/**
 * Incus's warning types (internal/server/db/warningtype): the numeric code
 * stored, the name the API shows as `type`, and the severity.
 */

export const WarningType = {
  Undefined: 0,
  MissingCGroupBlkio: 1,
  MissingCGroupBlkioWeight: 2,
  MissingCGroupCPUController: 3,
  MissingCGroupCPUsetController: 4,
  MissingCGroupCPUacctController: 5,
  MissingCGroupDevicesController: 6,
  MissingCGroupFreezerController: 7,
  MissingCGroupHugetlbController: 8,
  MissingCGroupMemoryController: 9,
  // 10 was MissingCGroupNetworkPriorityController.
  MissingCGroupPidsController: 11,
  MissingCGroupMemorySwapAccounting: 12,
  ClusterTimeSkew: 13,
  AppArmorNotAvailable: 14,
  MissingVirtiofsd: 15,
  AppArmorDisabledDueToRawDnsmasq: 16,
  LargerIPv6PrefixThanSupported: 17,
  ProxyBridgeNetfilterNotEnabled: 18,
  NetworkUnvailable: 19,
  OfflineClusterMember: 20,
  InstanceAutostartFailure: 21,
  InstanceTypeNotOperational: 22,
  StoragePoolUnvailable: 23,
  UnableToUpdateClusterCertificate: 24,
  SELinuxNotAvailable: 25,
} as const;

export type WarningTypeCode = (typeof WarningType)[keyof typeof WarningType];

const NAMES: Record<number, string> = {
  0: 'Undefined warning',
  1: "Couldn't find the CGroup blkio",
  2: "Couldn't find the CGroup blkio.weight",
  3: "Couldn't find the CGroup CPU controller",
  4: "Couldn't find the CGroup CPUset controller",
  5: "Couldn't find the CGroup CPUacct controller",
  6: "Couldn't find the CGroup devices controller",
  7: "Couldn't find the CGroup freezer controller",
  8: "Couldn't find the CGroup hugetlb controller",
  9: "Couldn't find the CGroup memory controller",
  11: "Couldn't find the CGroup pids controller",
  12: "Couldn't find the CGroup memory swap accounting",
  13: 'Time skew detected between leader and local',
  14: 'AppArmor support has been disabled',
  15: 'Missing virtiofsd',
  16: 'Skipping AppArmor for dnsmasq due to raw.dnsmasq being set',
  17: "IPv6 networks with a prefix larger than 64 aren't properly supported by dnsmasq",
  18: 'Proxy bridge netfilter not enabled',
  19: 'Network unavailable',
  20: 'Offline cluster member',
  21: 'Failed to autostart instance',
  22: 'Instance type not operational',
  23: 'Storage pool unavailable',
  24: 'Unable to update cluster certificate',
  25: 'SELinux support has been disabled',
};

/** Incus rates only the unavailable network and storage pool as high. */
const HIGH = new Set<number>([WarningType.NetworkUnvailable, WarningType.StoragePoolUnvailable]);

export const warningTypeName = (code: number): string => NAMES[code] ?? NAMES[0]!;
export const warningSeverity = (code: number): 'low' | 'moderate' | 'high' => (HIGH.has(code) ? 'high' : 'low');

/** Incus's status codes (warningtype.Status). */
export const WarningStatus = { new: 1, acknowledged: 2, resolved: 3 } as const;
export type WarningStatusName = keyof typeof WarningStatus;
export const statusName = (code: number): WarningStatusName =>
  (Object.entries(WarningStatus).find(([, v]) => v === code)?.[0] as WarningStatusName | undefined) ?? 'new';
