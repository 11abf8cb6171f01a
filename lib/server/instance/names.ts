/** Instance name rules (Incus: a DNS label, no snapshot delimiter) and generated names. */
import { randomInt } from 'node:crypto';
import { badRequest } from '../errors';

const LABEL = /^[-a-zA-Z0-9]+$/;

/** Throws a 400 naming the problem when name is not a valid instance name. */
export function validateInstanceName(name: string): void {
  if (name.includes('/')) throw badRequest('The character "/" is reserved for snapshots');
  const why = hostnameProblem(name);
  if (why) throw badRequest(`Invalid instance name "${name}": ${why}`);
}

/** Why name is not a valid DNS label, or null when it is. */
export function hostnameProblem(name: string): string | null {
  if (name.length < 1 || name.length > 63) return 'Name must be 1-63 characters long';
  if (name.startsWith('-')) return 'Name must not start with "-" character';
  if (name.endsWith('-')) return 'Name must not end with "-" character';
  if (/^[0-9]+$/.test(name)) return 'Name cannot be a number';
  if (!LABEL.test(name)) return 'Name can only contain alphanumeric and hyphen characters';
  return null;
}

const ADJECTIVES = [
  'able', 'brave', 'calm', 'clever', 'daring', 'eager', 'fair', 'gentle', 'happy', 'honest', 'keen', 'kind',
  'lively', 'loyal', 'merry', 'neat', 'noble', 'polite', 'proud', 'quick', 'quiet', 'rapid', 'sharp', 'smart',
  'steady', 'sunny', 'swift', 'tidy', 'vivid', 'warm', 'wise', 'witty',
];
const ANIMALS = [
  'badger', 'beaver', 'bison', 'crane', 'dingo', 'eagle', 'ferret', 'finch', 'gecko', 'heron', 'ibis', 'jackal',
  'koala', 'lemur', 'lynx', 'marten', 'mole', 'newt', 'ocelot', 'otter', 'panda', 'puffin', 'quail', 'raven',
  'seal', 'shrew', 'stoat', 'tapir', 'toucan', 'vole', 'walrus', 'yak',
];

/** A random adjective-animal name for an instance created without one. */
export function generateName(taken: (name: string) => boolean): string {
  for (;;) {
    const n = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${ANIMALS[randomInt(ANIMALS.length)]}`;
    if (!taken(n)) return n;
  }
}
