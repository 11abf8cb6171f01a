/**
 * Compression algorithms as Incus takes them (images.compression_algorithm,
 * backups.compression_algorithm, publish and backup requests): a compressor
 * command with optional level or --rsyncable arguments ("gzip --rsyncable",
 * "xz -9"), checked as validate.IsCompressionAlgorithm checks it and run as
 * Incus's compressFile runs it (`CMD -c ARGS`, gzip without timestamps).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const KNOWN = ['bzip2', 'gzip', 'lz4', 'lzma', 'pigz', 'pzstd', 'pxz', 'tar2sqfs', 'xz', 'zstd'];
const ALLOWED_ARGS = ['-1', '-2', '-3', '-4', '-5', '-6', '-7', '-8', '-9', '--rsyncable'];
const REPRODUCIBLE: Record<string, string[]> = { gzip: ['-n'], pigz: ['-n', '-m'] };

function onPath(cmd: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Incus's message for a value it refuses, or null when the value is usable ("none" included). */
export function compressionError(value: string): string | null {
  if (value === 'none') return null;
  const fields = (value === 'squashfs' ? 'tar2sqfs' : value).split(/\s+/).filter((f) => f !== '');
  const cmd = fields[0];
  if (cmd === undefined) return 'Invalid compressor provided';
  for (const arg of fields.slice(1)) {
    if (!ALLOWED_ARGS.includes(arg)) return `Compression algorithm argument "${arg}" isn't allowed`;
  }
  if (!KNOWN.includes(cmd)) return `Compression algorithm "${cmd}" isn't currently supported`;
  if (!onPath(cmd)) return `Compression algorithm "${cmd}" isn't supported on this system`;
  return null;
}

/**
 * The command that compresses stdin to stdout for a value compressionError
 * accepted, or null for "none". squashfs is not produced here: callers
 * refuse it before.
 */
export function compressorCommand(value: string): string[] | null {
  if (value === 'none') return null;
  const [cmd, ...args] = value.split(/\s+/).filter((f) => f !== '');
  return [cmd!, '-c', ...args, ...(REPRODUCIBLE[cmd!] ?? [])];
}
