/**
 * What unix-char and unix-block share: their options and how the node is
 * found (major/minor given, or read from `source` on the host), and the
 * driver built on unix-node.ts. Hot-plug is supported; a missing source
 * with required=false is skipped (Incus then waits for it to appear; this
 * daemon does not watch for it yet).
 */
import { statSync } from 'node:fs';
import { isBool } from '../config/validators';
import { isTrue } from '../config-keys';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, deviceError, isAbsPath, isDeviceNumber, isOctalMode, isUnixId, octalMode } from './options';
import { splitDev } from './paths';
import { DEFAULT_NODE_MODE, type UnixNode, nodeRunConfig, plugNode, prepareNode, removeHostNodes, unplugNodes } from './unix-node';

const RULES = {
  source: isAbsPath,
  path: isAbsPath,
  major: isDeviceNumber,
  minor: isDeviceNumber,
  uid: isUnixId,
  gid: isUnixId,
  mode: isOctalMode,
  required: isBool,
  'limits.read': () => null,
  'limits.write': () => null,
};

/** Validation shared by unix-char and unix-block. */
export function validateUnix(name: string, config: Record<string, string>, type: 'unix-char' | 'unix-block'): void {
  checkDeviceOptions(name, config, RULES);
  if (!config.source && !config.path) throw deviceError(name, 'Unix device entry is missing the required "source" or "path" property');
  if (Boolean(config.major) !== Boolean(config.minor)) throw deviceError(name, 'Both "major" and "minor" must be set, or neither');
  if (type !== 'unix-block' && (config['limits.read'] || config['limits.write'])) {
    throw deviceError(name, 'I/O limits are only supported for unix-block devices');
  }
  if (config['limits.read'] || config['limits.write']) throw deviceError(name, 'I/O limits on unix-block devices are not supported yet');
}

/**
 * The node a unix device puts in the container, or null when its source is
 * missing and it is not required. Throws when the source is the wrong
 * kind, or missing while required (the runner names the device).
 */
export function unixNodeOf(config: Record<string, string>, type: 'c' | 'b'): UnixNode | null {
  const source = config.source || config.path;
  const path = config.path || config.source;
  let major: number;
  let minor: number;
  if (config.major && config.minor) {
    major = Number(config.major);
    minor = Number(config.minor);
  } else {
    let st;
    try {
      st = statSync(source, { bigint: true });
    } catch {
      if (!isTrue(config.required ?? 'true')) return null;
      throw new Error(`The required device path "${source}" doesn't exist and the major and minor settings are not specified`);
    }
    if (type === 'c' ? !st.isCharacterDevice() : !st.isBlockDevice()) {
      throw new Error(`Path "${source}" is not a ${type === 'c' ? 'unix-char' : 'unix-block'} device`);
    }
    ({ major, minor } = splitDev(st.rdev));
  }
  return {
    path,
    type,
    major,
    minor,
    mode: octalMode(config.mode, DEFAULT_NODE_MODE),
    uid: Number(config.uid || 0),
    gid: Number(config.gid || 0),
  };
}

/** A unix-char or unix-block driver. */
export function unixDriver(typeName: 'unix-char' | 'unix-block'): DeviceDriver {
  const t = typeName === 'unix-char' ? 'c' : 'b';
  return {
    type: typeName,
    validate: (name, config) => validateUnix(name, config, typeName),
    async start(ctx: DeviceStartContext) {
      const node = unixNodeOf(ctx.config, t);
      if (!node) return null;
      return nodeRunConfig(await prepareNode(ctx, node), node);
    },
    stop: removeHostNodes,
    async hotplug(ctx) {
      const node = unixNodeOf(ctx.config, t);
      if (node) await plugNode(ctx, node);
    },
    hotunplug: unplugNodes,
  };
}
