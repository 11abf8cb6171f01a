/**
 * Project lifecycle (Incus's api_project.go): create with the default
 * features and, with features.profiles, an own `default` profile; config
 * changes that may only touch features while the project is empty; rename
 * and delete of empty projects only; the `default` project stays.
 */
import type { ConfigMap } from '../../api/instance';
import type { ProjectPut, ProjectsPost } from '../../api/project';
import type { Db, Queries } from '../db';
import type { ProjectRecord } from '../db/projects';
import { badRequest, conflict, forbidden, notFound } from '../errors';
import { isTrue } from '../instance/config-keys';
import type { EventBus } from '../operations/event-bus';
import { projectConfigProblem, projectNameProblem } from './config-keys';
import { DEFAULT_PROJECT, FEATURES, type FeatureKind, featureProject, isFeatureKey, withDefaultFeatures } from './features';
import { projectContents } from './used-by';

/** Checks a project config change against what the project holds (limits below usage); throws a 400. */
export type ProjectConfigCheck = (project: ProjectRecord, next: ConfigMap) => Promise<void>;

export class ProjectManager {
  /** Extra checks run on every config change (limits against usage). */
  readonly configChecks: ProjectConfigCheck[] = [];

  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
  ) {}

  /** The project, or a 404 "Project not found". */
  async get(name: string): Promise<ProjectRecord> {
    const p = await this.db.projects.get(name);
    if (!p) throw notFound('Project not found');
    return p;
  }

  /** The project whose resources of `kind` the project uses (itself, or `default` without the feature). */
  async featureProject(name: string, kind: FeatureKind): Promise<string> {
    if (name === DEFAULT_PROJECT) return name;
    return featureProject(name, (await this.get(name)).config, kind);
  }

  /** `networksTurnedOn`: features.networks is being set on a project other than default. */
  private async validateConfig(config: ConfigMap, networksTurnedOn: boolean): Promise<void> {
    const why = projectConfigProblem(config, (await this.db.pools.list()).map((p) => p.name));
    if (why) throw badRequest(why);
    // Incus gives a project its own networks through OVN only: bridges are host-wide.
    if (networksTurnedOn) throw badRequest('OVN is required for projects with "features.networks" enabled');
  }

  async create(body: ProjectsPost): Promise<void> {
    const why = projectNameProblem(body.name);
    if (why) throw badRequest(why);
    const config = withDefaultFeatures(body.config ?? {});
    await this.validateConfig(config, isTrue(config['features.networks']));
    await this.db.transaction(async (tx) => {
      if (await tx.projects.get(body.name)) throw conflict(`Project "${body.name}" already exists`);
      await tx.projects.create({ name: body.name, description: body.description ?? '', config });
      if (isTrue(config['features.profiles'])) await createDefaultProfile(tx, body.name);
    });
    this.events.lifecycle('project-created', `/1.0/projects/${body.name}`, body.name);
  }


  /** PUT semantics: `put` is the whole new description and config. */
  async update(p: ProjectRecord, put: ProjectPut): Promise<void> {
    const config = put.config;
    const changed = new Set([...Object.keys(p.config), ...Object.keys(config)].filter((k) => p.config[k] !== config[k]));
    const features = [...changed].filter(isFeatureKey);
    if (features.length > 0) {
      if (p.name === DEFAULT_PROJECT) throw badRequest("You can't change the features of the default project");
      if ((await projectContents(this.db, p.name)).length > 0) {
        for (const f of features) {
          if (isTrue(p.config[f])) throw badRequest(`Project feature "${f}" cannot be disabled on non-empty projects`);
          if (!FEATURES[f].canEnableNonEmpty) throw badRequest(`Project feature "${f}" cannot be enabled on non-empty projects`);
        }
      }
    }
    await this.validateConfig(config, changed.has('features.networks') && isTrue(config['features.networks']));
    for (const check of this.configChecks) await check(p, config);
    await this.db.transaction(async (tx) => {
      await tx.projects.update(p.id, put.description, config);
      if (!changed.has('features.profiles')) return;
      // Empty by now (checked above): only its default profile can be there.
      if (isTrue(config['features.profiles'])) {
        if (!(await tx.profiles.get(p.name, 'default'))) await createDefaultProfile(tx, p.name);
      } else {
        for (const pr of await tx.profiles.list(p.name)) await tx.profiles.delete(pr.id);
      }
    });
    this.events.lifecycle('project-updated', `/1.0/projects/${p.name}`, p.name);
  }

  /** Throws the 4xx a rename of `p` to `name` would meet. */
  async checkRename(p: ProjectRecord, name: string): Promise<void> {
    if (p.name === DEFAULT_PROJECT) throw forbidden("The 'default' project cannot be renamed");
    const why = projectNameProblem(name);
    if (why) throw badRequest(why);
    if (await this.db.projects.get(name)) throw conflict(`A project named "${name}" already exists`);
    if ((await projectContents(this.db, p.name)).length > 0) throw badRequest('Only empty projects can be renamed');
  }

  async rename(p: ProjectRecord, name: string): Promise<void> {
    await this.checkRename(p, name);
    try {
      await this.db.projects.rename(p.id, name);
    } catch (err) {
      if (String(err).includes('UNIQUE')) throw conflict(`A project named "${name}" already exists`);
      throw err;
    }
    this.events.lifecycle('project-renamed', `/1.0/projects/${name}`, name, { old_name: p.name });
  }

  async delete(p: ProjectRecord): Promise<void> {
    if (p.name === DEFAULT_PROJECT) throw forbidden("The 'default' project cannot be deleted");
    await this.db.transaction(async (tx) => {
      const left = await projectContents(tx, p.name);
      if (left.length > 0) throw badRequest(`Only empty projects can be removed. Still in use by: ${left.join(', ')}`);
      for (const pr of await tx.profiles.list(p.name)) await tx.profiles.delete(pr.id);
      await tx.projects.delete(p.id);
    });
    this.events.lifecycle('project-deleted', `/1.0/projects/${p.name}`, p.name);
  }
}

function createDefaultProfile(db: Queries, project: string): Promise<unknown> {
  return db.profiles.create({ project, name: 'default', description: `Default Incus profile for project ${project}`, config: {}, devices: {} });
}
