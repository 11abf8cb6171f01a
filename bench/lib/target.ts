/** The issue's targets, stated under each table as met or missed with the measured figure. */
import type { BenchContext } from './case';

/** Adds `target WHAT: met|missed, DETAIL` (and why, for a miss that has an explanation). */
export function targetNote(ctx: BenchContext, what: string, met: boolean, detail: string, whyMissed = ''): void {
  ctx.note(`target ${what}: ${met ? 'met' : 'missed'}, ${detail}${!met && whyMissed ? `; ${whyMissed}` : ''}`);
}
