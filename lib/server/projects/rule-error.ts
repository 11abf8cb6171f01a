/** A project limit or restriction that a change would break; the checks' callers turn it into a 400. */
export class ProjectRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProjectRuleError';
  }
}
