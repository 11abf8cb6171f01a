/** `incus-image-builder`: command-line entry point; runs when loaded. */

import { BuilderArgs, USAGE, UsageError, parseBuilderArgs, parseSourceDateEpoch } from './args';
import { buildBusyboxImage } from './busybox';
import { importImage } from './import';

/** Runs the command; resolves with the exit status. */
async function main(argv: readonly string[]): Promise<number> {
  let args: BuilderArgs;
  let creationDate: number | undefined;
  try {
    args = parseBuilderArgs(argv);
    creationDate = parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`Error: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  try {
    if (args.vm === true) {
      const vm =
        args.kind === 'debian'
          ? await (await import('./debian-vm')).buildDebianVmImage({
              release: args.release,
              mirror: args.mirror,
              outputDir: args.output,
              compression: args.compression,
              creationDate,
              log,
            })
          : await (await import('./busybox-vm')).buildBusyboxVmImage({
              outputDir: args.output,
              compression: args.compression,
              busybox: args.busybox,
              creationDate,
              log,
            });
      process.stdout.write(`${vm.metadata}\n${vm.disk}\n`);
      if (args.importAlias !== undefined) {
        const fingerprint = await importImage(vm.metadata, { aliases: [args.importAlias], rootfs: vm.disk });
        log(`Imported as ${args.importAlias} (fingerprint ${fingerprint})`);
      }
      return 0;
    }
    const image =
      args.kind === 'debian'
        ? await (await import('./debian')).buildDebianImage({
            release: args.release,
            mirror: args.mirror,
            output: args.output,
            compression: args.compression,
            creationDate,
            log: (line) => process.stderr.write(`${line}\n`),
          })
        : await buildBusyboxImage({
            output: args.output,
            compression: args.compression,
            busybox: args.busybox,
            creationDate,
          });
    process.stdout.write(`${image.path}\n`);
    if (args.importAlias !== undefined) {
      const fingerprint = await importImage(image.path, { aliases: [args.importAlias] });
      process.stderr.write(`Imported as ${args.importAlias} (fingerprint ${fingerprint})\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`Error: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
