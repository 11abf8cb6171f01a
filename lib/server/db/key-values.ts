/** Config tables of one key/value row each (nodes_config, cluster_groups_config). */
import type { Statement } from './sql';

/** Replaces the rows of `id` by `config` (empty values are dropped, as Incus unsets them). */
export async function replaceKeyValues(clear: Statement<[number]>, add: Statement<[number, string, string]>, id: number, config: Record<string, string>): Promise<void> {
  await clear.run(id);
  for (const [k, v] of Object.entries(config)) if (v !== '') await add.run(id, k, v);
}
