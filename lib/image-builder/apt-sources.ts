/**
 * The host's configured Debian mirror, read from apt's sources (one-line
 * `/etc/apt/sources.list` and `sources.list.d/*.list`, deb822
 * `sources.list.d/*.sources`), so an image builds from what the host uses.
 */
import fs from 'node:fs';
import path from 'node:path';

/** One `deb` source: its URI and suites. */
export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** Parses one-line sources (`deb [opts] uri suite comp...`). */
export function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ') && !line.startsWith('deb\t')) continue;
    const rest = line.slice(3).trim().replace(/^\[[^\]]*\]\s*/, '');
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (uri && suite) out.push({ uri, suites: [suite], components });
  }
  return out;
}

/** Parses deb822 stanzas (`Types: deb`, `URIs:`, `Suites:`, `Components:`), skipping `Enabled: no`. */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last = '';
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields[last] += ` ${raw.trim()}`;
        continue;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(raw);
      if (m) {
        last = (m[1] as string).toLowerCase();
        fields[last] = m[2] as string;
      }
    }
    if (!(fields.types ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.enabled ?? 'yes').toLowerCase() === 'no') continue;
    const words = (k: string): string[] => (fields[k] ?? '').split(/\s+/).filter(Boolean);
    for (const uri of words('uris')) out.push({ uri, suites: words('suites'), components: words('components') });
  }
  return out;
}

/** Every `deb` source the host's apt configuration lists. */
export function hostAptSources(root = '/etc/apt'): AptSource[] {
  const out: AptSource[] = [];
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  out.push(...parseOneLine(read(path.join(root, 'sources.list'))));
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(root, 'sources.list.d')).sort();
  } catch {
    // No directory: only sources.list.
  }
  for (const n of names) {
    const f = path.join(root, 'sources.list.d', n);
    if (n.endsWith('.list')) out.push(...parseOneLine(read(f)));
    else if (n.endsWith('.sources')) out.push(...parseDeb822(read(f)));
  }
  return out;
}

/**
 * The mirror to debootstrap `release` from: a source carrying that suite
 * (or any Debian archive) that is not the security archive.
 * @throws Error when apt lists none.
 */
export function debianMirror(sources: AptSource[], release: string): string {
  const archive = sources.filter((s) => !/security/.test(s.uri) && !s.suites.some((x) => /security/.test(x)));
  const bySuite = archive.find((s) => s.suites.includes(release));
  const debian = bySuite ?? archive.find((s) => /\/debian\/?$/.test(s.uri));
  if (!debian) throw new Error('No Debian mirror found in the apt sources; pass --mirror URL');
  return debian.uri.replace(/\/+$/, '');
}
