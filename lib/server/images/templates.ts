/**
 * Image templates: files listed in metadata.yaml rendered into the rootfs
 * when their trigger fires (create, copy, start, rename), with Incus's
 * variables (instance, container, config, devices, properties, trigger,
 * path) and config_get(). Rendering uses nunjucks (Jinja/Django syntax, as
 * Incus's pongo2 templates are written).
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import type { ImageMetadataTemplate } from '../../api/image';
import { resolveInRoot } from './resolve-in-root';

export type TemplateTrigger = 'create' | 'copy' | 'start' | 'rename';

export interface TemplateInstance {
  name: string;
  architecture: string;
  privileged: boolean;
  ephemeral: boolean;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
}

type Nunjucks = typeof import('nunjucks');
let engine: Nunjucks | null = null;

/** nunjucks loads lazily: most starts have no templates to render. */
function nunjucks(): Nunjucks {
  engine ??= require('nunjucks') as Nunjucks;
  return engine;
}

async function readTemplates(volumePath: string): Promise<Record<string, ImageMetadataTemplate>> {
  let text: string;
  try {
    text = await readFile(join(volumePath, 'metadata.yaml'), 'utf8');
  } catch {
    return {};
  }
  const md = parse(text) as { templates?: Record<string, ImageMetadataTemplate> } | null;
  return md?.templates ?? {};
}

/** Renders every template of the volume whose `when` holds trigger; returns the paths written. */
export async function applyTemplates(
  volumePath: string,
  trigger: TemplateTrigger,
  inst: TemplateInstance,
  /** Host id offset of a rootfs shifted on disk (0 for idmapped or privileged). */
  idOffset = 0,
): Promise<string[]> {
  const templates = await readTemplates(volumePath);
  const written: string[] = [];
  const rootfs = join(volumePath, 'rootfs');
  for (const [path, tpl] of Object.entries(templates)) {
    if (!Array.isArray(tpl.when) || !tpl.when.includes(trigger)) continue;
    const target = resolveInRoot(rootfs, path);
    if (tpl.create_only && (await stat(target).then(() => true, () => false))) continue;
    const source = await readFile(join(volumePath, 'templates', tpl.template), 'utf8');
    const instanceVars = {
      name: inst.name,
      architecture: inst.architecture,
      privileged: inst.privileged ? 'true' : 'false',
      ephemeral: inst.ephemeral ? 'true' : 'false',
    };
    const env = new (nunjucks().Environment)(null, { autoescape: false });
    env.addGlobal('config_get', (key: string, def?: unknown) => inst.config[key] ?? def ?? '');
    const text = env.renderString(source, {
      trigger,
      path,
      instance: instanceVars,
      container: instanceVars,
      config: inst.config,
      devices: inst.devices,
      properties: tpl.properties ?? {},
    });
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    const mode = tpl.mode ? parseInt(tpl.mode, 8) : 0o644;
    // O_NOFOLLOW: the path was resolved inside the root; never follow a link swapped in since.
    const fh = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
    try {
      await fh.writeFile(text);
      await fh.chown(Number(tpl.uid ?? 0) + idOffset, Number(tpl.gid ?? 0) + idOffset);
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
    written.push(path);
  }
  return written;
}
