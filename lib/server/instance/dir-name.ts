/**
 * The project-prefixed name an instance goes by on the host (its log and
 * device folders, its runtime name): projects other than default prefix
 * it, as Incus does (project.Instance).
 */
export function instanceDirName(project: string, name: string): string {
  return project === 'default' ? name : `${project}_${name}`;
}
