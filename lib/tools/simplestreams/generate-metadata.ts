/**
 * `incus-simplestreams generate-metadata`: asks for the image properties
 * (one answer per line on stdin, so it can be scripted) and writes an
 * xz-compressed tarball holding only metadata.yaml.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { canonicalArchitecture } from '../../simplestreams/arch';

/** Answers to the questions, in the order asked. */
export interface MetadataAnswers {
  os: string;
  release: string;
  variant: string;
  architecture: string;
  description: string;
}

/** metadata.yaml text for the answers, created at `now`. */
export function metadataYaml(a: MetadataAnswers, now: Date): string {
  const arch = canonicalArchitecture(a.architecture) ?? a.architecture;
  return stringify({
    architecture: arch,
    creation_date: Math.floor(now.getTime() / 1000),
    properties: { architecture: a.architecture, description: a.description, os: a.os, release: a.release, variant: a.variant },
  });
}

/** Incus's default description: `os release (variant) (arch) (YYYYMMDDhhmm)`, UTC. */
export function defaultDescription(os: string, release: string, variant: string, arch: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 12);
  return `${os} ${release} (${variant}) (${arch}) (${stamp})`;
}

async function ask(): Promise<(prompt: string, def?: string, check?: (v: string) => void) => Promise<string>> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  return async (prompt, def, check) => {
    for (;;) {
      process.stdout.write(prompt);
      const next = await lines.next();
      if (next.done) throw new Error('Unexpected end of input');
      const v = (next.value as string).trim() || def || '';
      if (!v) continue;
      try {
        check?.(v);
        return v;
      } catch (err) {
        process.stdout.write(`Invalid input: ${(err as Error).message}\n\n`);
      }
    }
  };
}

function tarXz(dir: string, out: string): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn('tar', ['-C', dir, '--owner=root', '--group=root', '-cJf', out, 'metadata.yaml'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res() : rej(new Error(`tar failed: ${err.trim()}`))));
  });
}

/** Asks the questions on stdin/stdout and writes the tarball at `path`. */
export async function runGenerateMetadata(path: string): Promise<void> {
  const q = await ask();
  const now = new Date();
  const os = await q('Operating system name: ');
  const release = await q('Release name: ');
  const variant = await q('Variant name [default="default"]: ', 'default');
  const architecture = await q('Architecture name: ', undefined, (v) => {
    if (!canonicalArchitecture(v)) throw new Error(`Architecture isn't supported: ${v}`);
  });
  const def = defaultDescription(os, release, variant, architecture, now);
  const description = await q(`Description [default="${def}"]: `, def);
  process.stdin.destroy();
  const dir = await mkdtemp(join(tmpdir(), 'incus-ss-meta-'));
  try {
    await writeFile(join(dir, 'metadata.yaml'), metadataYaml({ os, release, variant, architecture, description }, now), { mode: 0o644 });
    await tarXz(dir, resolve(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
