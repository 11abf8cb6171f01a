/** Instance runtime state (`/1.0/instances/{name}/state`). */

export type StateAction = 'start' | 'stop' | 'restart' | 'freeze' | 'unfreeze';

export interface InstanceStatePut {
  action: StateAction;
  timeout?: number;
  force?: boolean;
  stateful?: boolean;
}

export interface InstanceStateDisk {
  usage: number;
  total: number;
}

export interface InstanceStateCPU {
  usage: number;
  allocated_time: number;
}

export interface InstanceStateMemory {
  usage: number;
  usage_peak: number;
  total: number;
  swap_usage: number;
  swap_usage_peak: number;
}

export interface InstanceStateNetworkAddress {
  family: string;
  address: string;
  netmask: string;
  scope: string;
}

export interface InstanceStateNetwork {
  addresses: InstanceStateNetworkAddress[];
  counters: Record<string, number>;
  hwaddr: string;
  host_name: string;
  mtu: number;
  state: string;
  type: string;
}

export interface InstanceState {
  status: string;
  status_code: number;
  disk: Record<string, InstanceStateDisk> | null;
  memory: InstanceStateMemory;
  network: Record<string, InstanceStateNetwork> | null;
  pid: number;
  processes: number;
  cpu: InstanceStateCPU;
  started_at: string;
  os_info: null;
  /** incusd extension, VMs only: how the vCPUs run (`kvm`, or `tcg` under emulation). */
  accelerator?: string;
}
