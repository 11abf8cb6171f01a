/** A cluster member's state (Incus's ClusterMemberState, nodes.state) and what it means. */

/** Incus's cluster member states (nodes.state). */
export const MEMBER_STATE = { created: 0, pending: 1, evacuated: 2, evacuating: 3, restoring: 4 } as const;

/** Whether a member in `state` is under maintenance (nothing placed on it, exits not handled). */
export function inMaintenance(state: number): boolean {
  return state === MEMBER_STATE.evacuated || state === MEMBER_STATE.evacuating || state === MEMBER_STATE.restoring;
}
