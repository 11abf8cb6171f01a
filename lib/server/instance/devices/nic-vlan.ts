/**
 * A bridged NIC's port settings on a native Linux bridge, set on the
 * host-side port with `bridge` as Incus does: VLAN membership (`vlan`, the
 * untagged PVID; `vlan.tagged`, tagged memberships; setupNativeBridgePortVLANs)
 * and `security.port_isolation`.
 */
import { readFileSync } from 'node:fs';
import { runTool } from '../../network/tool';
import { expandVlanList } from '../../network/validators';
import { isTrue } from '../config-keys';

const bridgeTool = (...args: string[]): Promise<string> => runTool('bridge', args);

const bridgeAttr = (bridge: string, attr: string): string => {
  try {
    return readFileSync(`/sys/class/net/${bridge}/bridge/${attr}`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** Whether the NIC asks for any VLAN setting. */
export function hasVlans(config: Record<string, string>): boolean {
  return Boolean(config.vlan || config['vlan.tagged']);
}

/** Puts host port `port` of `bridge` into the NIC's VLANs. */
export async function setupPortVlans(bridge: string, port: string, config: Record<string, string>): Promise<void> {
  if (!hasVlans(config)) return;
  if (bridgeAttr(bridge, 'vlan_filtering') !== '1') throw new Error(`VLAN filtering is not enabled in parent bridge "${bridge}"`);
  const vlan = config.vlan ?? '';
  if (vlan) {
    if (vlan === '0') throw new Error('VLAN ID 0 is not allowed for native Linux bridges');
    const defaultPvid = bridgeAttr(bridge, 'default_pvid') || '0';
    if (defaultPvid !== '0' && (defaultPvid !== vlan || vlan === 'none')) {
      await bridgeTool('vlan', 'del', 'dev', port, 'vid', defaultPvid);
    }
    if (vlan !== 'none') await bridgeTool('vlan', 'add', 'dev', port, 'vid', vlan, 'pvid', 'untagged');
  }
  for (const id of expandVlanList(config['vlan.tagged'] ?? '')) {
    if (id === 0) throw new Error('VLAN tagged ID 0 is not allowed for native Linux bridges');
    await bridgeTool('vlan', 'add', 'dev', port, 'vid', String(id));
  }
}

/** `security.port_isolation`: the port may only talk to non-isolated ports (the uplink). */
export async function setupPortIsolation(port: string, config: Record<string, string>): Promise<void> {
  if (isTrue(config['security.port_isolation'])) await bridgeTool('link', 'set', 'dev', port, 'isolated', 'on');
}
