/** `incus alias add|list|rename|remove`: the user's command aliases in config.yml, as Incus keeps them. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { DEFAULT_ALIASES } from '../aliases';
import { loadConfig, saveConfig } from '../remotes/config';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';

/** The rows `incus alias list` prints: the user's aliases, then the defaults they do not override. */
export function aliasListText(aliases: Readonly<Record<string, string>>, format: string): string {
  const rows = Object.entries(aliases).map(([k, v]) => [k, v]);
  for (const [k, v] of Object.entries(DEFAULT_ALIASES)) if (!(k in aliases)) rows.push([k, v]);
  return renderList(parseFormat(format), ['ALIAS', 'TARGET'], sortRowsNaturally(rows), aliases);
}

export function register(program: Command, ctx: CliContext): void {
  const alias = program.command('alias').description('Manage command aliases');

  alias
    .command('add')
    .alias('create')
    .description('Add new aliases')
    .argument('<alias>', '<new-alias>')
    .argument('<target>', '<command>')
    .action((name: string, target: string) => {
      const conf = loadConfig(ctx.io.env);
      if (name in conf.aliases) throw new Error(`Alias ${name} already exists`);
      conf.aliases[name] = target;
      saveConfig(conf, ctx.io.env);
    });

  alias
    .command('list')
    .alias('ls')
    .description('List aliases')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact|markdown)', 'table')
    .action((flags: { format: string }) => {
      ctx.out(aliasListText(loadConfig(ctx.io.env).aliases, flags.format));
    });

  alias
    .command('rename')
    .alias('mv')
    .description('Rename aliases')
    .argument('<alias>', '<old-alias>')
    .argument('<new>', '<new-alias>')
    .action((name: string, newName: string) => {
      const conf = loadConfig(ctx.io.env);
      const target = conf.aliases[name];
      if (target === undefined) throw new Error(`Alias ${name} doesn't exist`);
      if (newName in conf.aliases) throw new Error(`Alias ${newName} already exists`);
      conf.aliases[newName] = target;
      delete conf.aliases[name];
      saveConfig(conf, ctx.io.env);
    });

  alias
    .command('remove')
    .aliases(['delete', 'rm'])
    .description('Remove aliases')
    .argument('<alias>', '<alias>')
    .action((name: string) => {
      const conf = loadConfig(ctx.io.env);
      if (!(name in conf.aliases)) throw new Error(`Alias ${name} doesn't exist`);
      delete conf.aliases[name];
      saveConfig(conf, ctx.io.env);
    });
}
