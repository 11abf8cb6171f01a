import t from 'tap';
import { appletLinkTarget, parseAppletList, parseBusyboxVersion } from '../../lib/image-builder/applets';

t.test('parseAppletList keeps paths, sorts, dedups and drops busybox itself', async (t) => {
  const out = 'usr/bin/[\nbin/sh\nsbin/init\nbin/busybox\nlinuxrc\n\nusr/bin/awk\nbin/sh\n';
  t.same(parseAppletList(out), ['bin/sh', 'linuxrc', 'sbin/init', 'usr/bin/[', 'usr/bin/awk']);
});

t.test('parseAppletList normalises and rejects escaping paths', async (t) => {
  t.same(parseAppletList('./bin/ls\nbin//cat\n'), ['bin/cat', 'bin/ls']);
  t.same(parseAppletList('bin/../bin/busybox\n'), []);
  t.throws(() => parseAppletList('/bin/sh\n'), RangeError);
  t.throws(() => parseAppletList('../etc/passwd\n'), RangeError);
  t.throws(() => parseAppletList('bin/../../x\n'), RangeError);
});

t.test('parseBusyboxVersion reads the banner', async (t) => {
  t.equal(parseBusyboxVersion('BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n'), '1.35.0');
  t.equal(parseBusyboxVersion('BusyBox v1.36.1 (2023-06-10) multi-call binary.'), '1.36.1');
  t.equal(parseBusyboxVersion('BusyBox v1.37.0.git multi-call binary.'), '1.37.0.git');
  t.throws(() => parseBusyboxVersion('Usage: busybox [function]'), RangeError);
});

t.test('appletLinkTarget points at bin/busybox relative to the link', async (t) => {
  t.equal(appletLinkTarget('bin/sh'), 'busybox');
  t.equal(appletLinkTarget('sbin/init'), '../bin/busybox');
  t.equal(appletLinkTarget('usr/bin/awk'), '../../bin/busybox');
  t.equal(appletLinkTarget('linuxrc'), 'bin/busybox');
});
