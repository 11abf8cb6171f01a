import t from 'tap';
import { compressionError, compressorCommand } from '../../../lib/server/images/compression';

t.test('compressionError answers as validate.IsCompressionAlgorithm', async (t) => {
  t.equal(compressionError('none'), null);
  t.equal(compressionError('gzip'), null);
  t.equal(compressionError('xz -9'), null);
  t.equal(compressionError('gzip --rsyncable'), null);
  t.equal(compressionError(''), 'Invalid compressor provided');
  t.equal(compressionError('ps'), 'Compression algorithm "ps" isn\'t currently supported');
  t.equal(compressionError('gzip -c -f'), 'Compression algorithm argument "-c" isn\'t allowed');
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    t.equal(compressionError('zstd'), 'Compression algorithm "zstd" isn\'t supported on this system');
  } finally {
    process.env.PATH = saved;
  }
});

t.test('compressorCommand runs CMD -c ARGS, gzip without timestamps', async (t) => {
  t.equal(compressorCommand('none'), null);
  t.same(compressorCommand('gzip --rsyncable'), ['gzip', '-c', '--rsyncable', '-n']);
  t.same(compressorCommand('xz  -9'), ['xz', '-c', '-9']);
  t.same(compressorCommand('zstd'), ['zstd', '-c']);
});
