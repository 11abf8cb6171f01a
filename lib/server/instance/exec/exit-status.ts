/**
 * Exit statuses Incus turns into a failed operation (the status still
 * lands in `metadata.return`): 127 when the command was not found, 126 when
 * it could not be executed.
 */
import { StatusError } from '../../errors';

/** The operation error for an exit status, or null when the status is just the command's. */
export function commandFailure(status: number): StatusError | null {
  if (status === 127) return new StatusError(400, 'Command not found');
  if (status === 126) return new StatusError(400, 'Command not executable');
  return null;
}
