/** Generated instance names; the name rules themselves are in names/. */
import { randomInt } from 'node:crypto';
// The rules live with every other kind's in names/; re-exported for the instance layer's callers.
export { hostnameProblem, validateInstanceName } from '../names';

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
export async function generateName(taken: (name: string) => Promise<boolean>): Promise<string> {
  for (;;) {
    const n = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${ANIMALS[randomInt(ANIMALS.length)]}`;
    if (!(await taken(n))) return n;
  }
}
