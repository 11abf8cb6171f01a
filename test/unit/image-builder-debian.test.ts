/** Debian builder helpers: the host's apt mirror, metadata, architectures (pure). */
import t from 'tap';
import { debianMirror, parseDeb822, parseOneLine } from '../../lib/image-builder/apt-sources';
import { CONTAINER_INITTAB, debianArchitecture, debianMetadata } from '../../lib/image-builder/debian';

t.test('one-line and deb822 sources', async (t) => {
  t.same(parseOneLine('# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm main contrib\ndeb-src http://x/debian bookworm main\n'), [
    { uri: 'http://deb.debian.org/debian', suites: ['bookworm'], components: ['main', 'contrib'] },
  ]);
  const deb822 = [
    'Types: deb',
    '# http://snapshot.debian.org/archive/debian/20250520T000000Z',
    'URIs: http://deb.debian.org/debian',
    'Suites: bookworm bookworm-updates',
    'Components: main',
    '',
    'Types: deb',
    'URIs: http://deb.debian.org/debian-security',
    'Suites: bookworm-security',
    'Components: main',
    '',
    'Types: deb-src',
    'URIs: http://src.example/debian',
    'Suites: bookworm',
    '',
    'Types: deb',
    'Enabled: no',
    'URIs: http://off.example/debian',
    'Suites: bookworm',
  ].join('\n');
  t.same(parseDeb822(deb822), [
    { uri: 'http://deb.debian.org/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'] },
    { uri: 'http://deb.debian.org/debian-security', suites: ['bookworm-security'], components: ['main'] },
  ]);
});

t.test('the mirror: a source with the suite, never the security archive', async (t) => {
  const sources = [
    { uri: 'http://deb.debian.org/debian-security/', suites: ['bookworm-security'], components: ['main'] },
    { uri: 'https://packages.cloud.google.com/apt', suites: ['cloud-sdk-bookworm'], components: ['main'] },
    { uri: 'http://mirror.example/debian/', suites: ['bookworm'], components: ['main'] },
  ];
  t.equal(debianMirror(sources, 'bookworm'), 'http://mirror.example/debian');
  t.equal(debianMirror(sources, 'trixie'), 'http://mirror.example/debian', 'any Debian archive for another suite');
  t.throws(() => debianMirror(sources.slice(0, 2), 'bookworm'), /No Debian mirror found/);
});

t.test('metadata and container tweaks', async (t) => {
  t.equal(debianArchitecture('x86_64'), 'amd64');
  t.equal(debianArchitecture('aarch64'), 'arm64');
  t.throws(() => debianArchitecture('mips'), RangeError);
  const md = debianMetadata('x86_64', 'bookworm', 1700000000);
  t.equal(md.architecture, 'x86_64');
  t.same(md.properties, {
    architecture: 'amd64',
    description: 'Debian bookworm amd64 (20231114_2213)',
    name: 'debian-bookworm-amd64-default-20231114_2213',
    os: 'debian',
    release: 'bookworm',
    serial: '20231114_2213',
    variant: 'default',
  });
  t.same(md.templates?.['/etc/hostname']?.when, ['create', 'copy']);
  t.match(CONTAINER_INITTAB, /^pf::powerwait:\/sbin\/init 0$/m, 'SIGPWR (liblxc halt) stops the container');
  t.notMatch(CONTAINER_INITTAB, /tty1/, 'no getty on ttys a container does not have');
});
