/**
 * Project features (Incus's cluster.ProjectFeatures): which kinds of
 * resources a project holds itself. A project without a feature uses the
 * `default` project's resources of that kind.
 */
import type { ConfigMap } from '../../api/instance';
import { isTrue } from '../instance/config-keys';

export const DEFAULT_PROJECT = 'default';

export type FeatureKind = 'images' | 'profiles' | 'storage.volumes' | 'storage.buckets' | 'networks' | 'networks.zones';

interface FeatureRule {
  /** Set to "true" on new projects that do not say otherwise. */
  defaultEnabled: boolean;
  /** May be turned on while the project holds something. */
  canEnableNonEmpty: boolean;
}

export const FEATURES: Record<`features.${FeatureKind}`, FeatureRule> = {
  'features.images': { defaultEnabled: true, canEnableNonEmpty: false },
  'features.profiles': { defaultEnabled: true, canEnableNonEmpty: false },
  'features.storage.volumes': { defaultEnabled: true, canEnableNonEmpty: false },
  'features.storage.buckets': { defaultEnabled: true, canEnableNonEmpty: false },
  'features.networks': { defaultEnabled: false, canEnableNonEmpty: false },
  'features.networks.zones': { defaultEnabled: false, canEnableNonEmpty: true },
};

export const isFeatureKey = (key: string): key is keyof typeof FEATURES => Object.hasOwn(FEATURES, key);

/** A new project's config: the default features added where the request is silent. */
export function withDefaultFeatures(config: ConfigMap): ConfigMap {
  const out = { ...config };
  for (const [k, rule] of Object.entries(FEATURES)) if (rule.defaultEnabled && !(k in out)) out[k] = 'true';
  return out;
}

/**
 * The project whose resources of `kind` the project `name` (with `config`)
 * uses: itself when the feature is on, else `default` (as Incus's
 * project.ProfileProject, ImageProject, StorageVolumeProject, NetworkProject).
 */
export function featureProject(name: string, config: ConfigMap, kind: FeatureKind): string {
  if (name === DEFAULT_PROJECT) return name;
  return isTrue(config[`features.${kind}`]) ? name : DEFAULT_PROJECT;
}
