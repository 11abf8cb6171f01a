/** Projects (`/1.0/projects`). */
import type { ConfigMap } from './instance';

export interface ProjectPut {
  config: ConfigMap;
  description: string;
}

export interface Project extends ProjectPut {
  name: string;
  used_by: string[];
}

export interface ProjectsPost extends Partial<ProjectPut> {
  name: string;
}

/** POST /1.0/projects/{name}: rename. */
export interface ProjectPost {
  name: string;
}

/** One line of `/1.0/projects/{name}/state`: a limit (-1: none) and the usage counted against it. */
export interface ProjectStateResource {
  Limit: number;
  Usage: number;
}

export interface ProjectState {
  resources: Record<string, ProjectStateResource>;
}
