/** YAML shaped like Go's yaml encoder output (as Incus prints it). */
import type * as YAML from 'yaml';

/**
 * Serialises `value`: sequences not indented under their key, no line
 * folding, double quotes where plain scalars would be ambiguous. The `yaml`
 * package is loaded on first use only, so commands that never print YAML
 * do not pay for it.
 */
export function renderYaml(value: unknown): string {
  const yaml = require('yaml') as typeof YAML;
  return yaml.stringify(value === undefined ? null : value, { indentSeq: false, lineWidth: 0 });
}
