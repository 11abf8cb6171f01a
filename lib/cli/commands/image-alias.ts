/** `incus image alias create|list|delete|rename`. */
import type { Command } from 'commander';
import type { ImageAliasesEntry } from '../../api/image';
import type { CliContext } from '../context';
import { orderKeys } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { imageAliasShape } from '../format/shapes';
import { sortRowsNaturally } from '../format/sort';
import { resolveImage } from '../image-ref';
import { localName } from '../remote';
import { parseColumnLetters } from '../column-letters';

/** Incus default for `image alias list`: alias, fingerprint, type, description. */
export const DEFAULT_ALIAS_COLUMNS = 'aftd';

type AliasColumn = [name: string, data: (a: ImageAliasesEntry) => string];

const ALIAS_COLUMNS: Record<string, AliasColumn> = {
  a: ['ALIAS', (a) => a.name],
  f: ['FINGERPRINT', (a) => a.target.slice(0, 12)],
  t: ['TYPE', (a) => (a.type || 'container').toUpperCase()],
  d: ['DESCRIPTION', (a) => a.description],
};

/** Parses an `image alias list -c` value. */
export function parseAliasColumns(spec: string): AliasColumn[] {
  return parseColumnLetters(spec, ALIAS_COLUMNS);
}

interface AliasListFlags {
  columns: string;
  format: string;
}

async function listAliases(ctx: CliContext, args: string[], flags: AliasListFlags): Promise<number> {
  const spec = parseFormat(flags.format);
  const filters = [...args];
  if (filters[0]?.endsWith(':')) localName(filters.shift()!);
  const columns = parseAliasColumns(flags.columns);
  const aliases = (await ctx.client().getImageAliases()).filter(
    (a) => filters.length === 0 || filters.some((f) => a.name.includes(f) || a.target.includes(f)),
  );
  const rows = sortRowsNaturally(aliases.map((a) => columns.map(([, data]) => data(a))));
  ctx.out(renderList(spec, columns.map(([n]) => n), rows, aliases.map((a) => orderKeys(a, imageAliasShape))));
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(image: Command, ctx: CliContext): void {
  const alias = image.command('alias').description('Manage image aliases');

  alias
    .command('create')
    .alias('add')
    .description('Create aliases for existing images')
    .argument('<alias>', '[<remote>:]<alias>')
    .argument('<fingerprint>', 'Image fingerprint (or a unique prefix)')
    .option('--description <text>', 'Image alias description', '')
    .action(async (name: string, fingerprint: string, flags: { description: string }) => {
      const client = ctx.client();
      const { image: target } = await resolveImage(client, fingerprint, { aliases: false });
      await client.createImageAlias({ name: localName(name), target: target.fingerprint, description: flags.description });
    });

  alias
    .command('list')
    .alias('ls')
    .description('List image aliases')
    .argument('[filters...]', 'Optional [<remote>:] followed by filters')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_ALIAS_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action(async (filters: string[], flags: AliasListFlags) => {
      ctx.exitCode = await listAliases(ctx, filters, flags);
    });

  alias
    .command('rename')
    .alias('mv')
    .description('Rename aliases')
    .argument('<alias>', '[<remote>:]<alias>')
    .argument('<new-name>', 'New alias name')
    .action(async (name: string, next: string) => {
      const { renameImageAlias } = require('../../client/images') as typeof import('../../client/images');
      await renameImageAlias(ctx.client(), localName(name), next);
    });

  alias
    .command('delete')
    .aliases(['rm', 'remove'])
    .description('Delete image aliases')
    .argument('<aliases...>', '[<remote>:]<alias>')
    .action(async (names: string[]) => {
      const errors: string[] = [];
      for (const n of names) {
        try {
          await ctx.client().deleteImageAlias(localName(n));
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      if (errors.length > 0) throw new Error(errors.join('\n'));
    });
}
