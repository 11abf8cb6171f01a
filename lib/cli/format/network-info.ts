/** The text of `incus network info NAME`, in Incus's layout. */
import type { NetworkState } from '../../api/network';
import { byteSizeSI } from './units';

export function networkInfoText(name: string, st: NetworkState): string {
  const out: string[] = [`Name: ${name}`];
  if (st.hwaddr) out.push(`MAC address: ${st.hwaddr}`);
  out.push(`MTU: ${st.mtu}`, `State: ${st.state}`, `Type: ${st.type}`);
  if (st.addresses?.length) {
    out.push('', 'IP addresses:');
    for (const a of st.addresses) out.push(`  ${a.family}\t${a.address}/${a.netmask} (${a.scope})`);
  }
  if (st.counters) {
    out.push(
      '',
      'Network usage:',
      `  Bytes received: ${byteSizeSI(st.counters.bytes_received)}`,
      `  Bytes sent: ${byteSizeSI(st.counters.bytes_sent)}`,
      `  Packets received: ${st.counters.packets_received}`,
      `  Packets sent: ${st.counters.packets_sent}`,
    );
  }
  if (st.bridge) {
    out.push(
      '',
      'Bridge:',
      `  ID: ${st.bridge.id}`,
      `  STP: ${String(st.bridge.stp)}`,
      `  Forward delay: ${st.bridge.forward_delay}`,
      `  Default VLAN ID: ${st.bridge.vlan_default}`,
      `  VLAN filtering: ${String(st.bridge.vlan_filtering)}`,
      `  Upper devices: ${st.bridge.upper_devices.join(', ')}`,
    );
  }
  return out.join('\n') + '\n';
}
