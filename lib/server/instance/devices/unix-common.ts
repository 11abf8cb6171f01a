/**
 * What unix-char and unix-block share: their options and how the node is
 * found (major/minor given, or read from `source` on the host), and the
 * driver built on unix-node.ts. Hot-plug is supported; a source with
 * required=false may be missing: while the container runs it is followed,
 * plugged when it appears and unplugged when it goes (source-watch.ts).
 */
import { statSync } from 'node:fs';
import { isBool } from '../config/validators';
import { isTrue } from '../config-keys';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, deviceError, isAbsPath, isDeviceNumber, isOctalMode, isUnixId, octalMode } from './options';
import { splitDev } from './paths';
import { DEFAULT_NODE_MODE, type UnixNode, hasHostNodes, nodeRunConfig, plugNode, prepareNode, removeHostNodes, unplugNodes } from './unix-node';

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

/** While the container runs, a device with required=false follows its source (plugged when it exists). */
async function followSource(ctx: DeviceStartContext, type: 'c' | 'b'): Promise<void> {
  const { config } = ctx;
  if (!ctx.sourceWatch || !ctx.pid || !config.source || isTrue(config.required ?? 'true')) return;
  const present = await hasHostNodes(ctx);
  ctx.sourceWatch.watch(watchKey(ctx), config.source, present, async (now) => {
    if (!now) return unplugNodes(ctx);
    const node = unixNodeOf(config, type);
    if (node) await plugNode(ctx, node);
  });
}

const watchKey = (ctx: DeviceStartContext): string => `${ctx.dirName}/${ctx.name}`;

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
    postStart: (ctx) => followSource(ctx, t),
    resume: (ctx) => followSource(ctx, t),
    async stop(ctx) {
      ctx.sourceWatch?.unwatch(watchKey(ctx));
      await removeHostNodes(ctx);
    },
    async hotplug(ctx) {
      const node = unixNodeOf(ctx.config, t);
      if (node) await plugNode(ctx, node);
      await followSource(ctx, t);
    },
    async hotunplug(ctx) {
      ctx.sourceWatch?.unwatch(watchKey(ctx));
      await unplugNodes(ctx);
    },
  };
}
