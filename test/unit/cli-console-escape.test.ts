import t from 'tap';
import { DetachFilter } from '../../lib/cli/console-escape';

const feed = (f: DetachFilter, s: string) => {
  const r = f.feed(Buffer.from(s, 'latin1'));
  return { forward: r.forward.toString('latin1'), detach: r.detach };
};

t.test('ctrl+a q detaches, within one chunk or across chunks', async (t) => {
  t.same(feed(new DetachFilter(), 'ab\x01q'), { forward: 'ab', detach: true });
  const f = new DetachFilter();
  t.same(feed(f, 'x\x01'), { forward: 'x', detach: false }, 'the escape is held back');
  t.same(feed(f, 'q'), { forward: '', detach: true });
});

t.test('other keys after ctrl+a go through, as Incus reads them', async (t) => {
  const f = new DetachFilter();
  t.same(feed(f, '\x01x'), { forward: 'x', detach: false }, 'ctrl+a x sends x');
  t.same(feed(f, '\x01\x01'), { forward: '\x01', detach: false }, 'ctrl+a ctrl+a sends one ctrl+a');
  t.same(feed(f, 'q'), { forward: 'q', detach: false }, 'a plain q after that is just q');
  t.same(feed(f, 'quit\r'), { forward: 'quit\r', detach: false });
});
