import t from 'tap';
import { StatusCode } from '../../lib/api/response';

t.test('status codes', async (t) => {
  t.equal(StatusCode.Running, 103);
});
