/** Incus's rule for instance names (shared/validate IsHostname): a DNS label. */

const LABEL = /^[-a-zA-Z0-9]+$/;

/** Why name is not a valid DNS label, or null when it is. */
export function hostnameProblem(name: string): string | null {
  if (name.length < 1 || name.length > 63) return 'Name must be 1-63 characters long';
  if (name.startsWith('-')) return 'Name must not start with "-" character';
  if (name.endsWith('-')) return 'Name must not end with "-" character';
  if (/^[0-9]+$/.test(name)) return 'Name cannot be a number';
  if (!LABEL.test(name)) return 'Name can only contain alphanumeric and hyphen characters';
  return null;
}
