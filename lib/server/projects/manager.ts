/**
 * Project lifecycle (Incus's api_project.go): create with the default
 * features and, with features.profiles, an own `default` profile; config
 * changes that may only touch features while the project is empty; rename
 * and delete of empty projects only; the `default` project stays.
 */
import type { ConfigMap } from '../../api/instance';
import type { ProjectPut, ProjectsPost } from '../../api/project';
import type { Db } from '../db';
import type { ProjectRecord } from '../db/projects';
import { badRequest, conflict, forbidden, notFound } from '../errors';
import { isTrue } from '../instance/config-keys';
import type { EventBus } from '../operations/event-bus';
import { projectConfigProblem, projectNameProblem } from './config-keys';
import { DEFAULT_PROJECT, FEATURES, type FeatureKind, featureProject, isFeatureKey, withDefaultFeatures } from './features';
import { projectContents } from './used-by';

/** Checks a project config change against what the project holds (limits below usage); throws a 400. */
export type ProjectConfigCheck = (project: ProjectRecord, next: ConfigMap) => void;

export class ProjectManager {
  /** Extra checks run on every config change (limits against usage). */
  readonly configChecks: ProjectConfigCheck[] = [];

  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
  ) {}

  /** The project, or a 404 "Project not found". */
  get(name: string): ProjectRecord {
    const p = this.db.projects.get(name);
    if (!p) throw notFound('Project not found');
    return p;
  }

  /** The project whose resources of `kind` the project uses (itself, or `default` without the feature). */
  featureProject(name: string, kind: FeatureKind): string {
    if (name === DEFAULT_PROJECT) return name;
    return featureProject(name, this.get(name).config, kind);
  }

  /** `networksTurnedOn`: features.networks is being set on a project other than default. */
  private validateConfig(config: ConfigMap, networksTurnedOn: boolean): void {
    const why = projectConfigProblem(config, this.db.pools.list().map((p) => p.name));
    if (why) throw badRequest(why);
    // Incus gives a project its own networks through OVN only: bridges are host-wide.
    if (networksTurnedOn) throw badRequest('OVN is required for projects with "features.networks" enabled');
  }

  create(body: ProjectsPost): void {
    const why = projectNameProblem(body.name);
    if (why) throw badRequest(why);
    const config = withDefaultFeatures(body.config ?? {});
    this.validateConfig(config, isTrue(config['features.networks']));
    if (this.db.projects.get(body.name)) throw conflict(`Project "${body.name}" already exists`);
    this.db.transaction(() => {
      this.db.projects.create({ name: body.name, description: body.description ?? '', config });
      if (isTrue(config['features.profiles'])) this.createDefaultProfile(body.name);
    });
    this.events.lifecycle('project-created', `/1.0/projects/${body.name}`, body.name);
  }

  private createDefaultProfile(project: string): void {
    this.db.profiles.create({ project, name: 'default', description: `Default Incus profile for project ${project}`, config: {}, devices: {} });
  }

  /** PUT semantics: `put` is the whole new description and config. */
  update(p: ProjectRecord, put: ProjectPut): void {
    const config = put.config;
    const changed = new Set([...Object.keys(p.config), ...Object.keys(config)].filter((k) => p.config[k] !== config[k]));
    const features = [...changed].filter(isFeatureKey);
    if (features.length > 0) {
      if (p.name === DEFAULT_PROJECT) throw badRequest("You can't change the features of the default project");
      if (projectContents(this.db, p.name).length > 0) {
        for (const f of features) {
          if (isTrue(p.config[f])) throw badRequest(`Project feature "${f}" cannot be disabled on non-empty projects`);
          if (!FEATURES[f].canEnableNonEmpty) throw badRequest(`Project feature "${f}" cannot be enabled on non-empty projects`);
        }
      }
    }
    this.validateConfig(config, changed.has('features.networks') && isTrue(config['features.networks']));
    for (const check of this.configChecks) check(p, config);
    this.db.transaction(() => {
      this.db.projects.update(p.id, put.description, config);
      if (!changed.has('features.profiles')) return;
      // Empty by now (checked above): only its default profile can be there.
      if (isTrue(config['features.profiles'])) {
        if (!this.db.profiles.get(p.name, 'default')) this.createDefaultProfile(p.name);
      } else {
        for (const pr of this.db.profiles.list(p.name)) this.db.profiles.delete(pr.id);
      }
    });
    this.events.lifecycle('project-updated', `/1.0/projects/${p.name}`, p.name);
  }

  /** Throws the 4xx a rename of `p` to `name` would meet. */
  checkRename(p: ProjectRecord, name: string): void {
    if (p.name === DEFAULT_PROJECT) throw forbidden("The 'default' project cannot be renamed");
    const why = projectNameProblem(name);
    if (why) throw badRequest(why);
    if (this.db.projects.get(name)) throw conflict(`A project named "${name}" already exists`);
    if (projectContents(this.db, p.name).length > 0) throw badRequest('Only empty projects can be renamed');
  }

  rename(p: ProjectRecord, name: string): void {
    this.checkRename(p, name);
    this.db.transaction(() => this.db.projects.rename(p.id, name));
    this.events.lifecycle('project-renamed', `/1.0/projects/${name}`, name, { old_name: p.name });
  }

  delete(p: ProjectRecord): void {
    if (p.name === DEFAULT_PROJECT) throw forbidden("The 'default' project cannot be deleted");
    const left = projectContents(this.db, p.name);
    if (left.length > 0) throw badRequest(`Only empty projects can be removed. Still in use by: ${left.join(', ')}`);
    this.db.transaction(() => {
      for (const pr of this.db.profiles.list(p.name)) this.db.profiles.delete(pr.id);
      this.db.projects.delete(p.id);
    });
    this.events.lifecycle('project-deleted', `/1.0/projects/${p.name}`, p.name);
  }
}
