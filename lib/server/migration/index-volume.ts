/**
 * The root volume rows an instance migration's index frame carries (Incus's
 * Info: `{config: backup.yaml}`): the volume's description and config and
 * its snapshots', so that a migrated instance keeps its volume's user.* keys.
 */
import type { RootVolumeRows } from '../instance/register';

interface IndexVolume {
  name?: unknown;
  description?: unknown;
  config?: unknown;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const configOf = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};

/** The rows of the index `info` (undefined when the peer sent none: an index version 0 source). */
export function volumeRowsFromIndex(info: unknown): RootVolumeRows | undefined {
  const config = (info as { config?: { volume?: IndexVolume; volume_snapshots?: IndexVolume[] } } | null)?.config;
  if (!config?.volume) return undefined;
  const snaps = Array.isArray(config.volume_snapshots) ? config.volume_snapshots : [];
  return {
    description: str(config.volume.description),
    config: configOf(config.volume.config),
    snapshots: new Map(snaps.filter((x) => typeof x?.name === 'string').map((x) => [x.name as string, { description: str(x.description), config: configOf(x.config) }])),
  };
}
