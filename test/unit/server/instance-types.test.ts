import t from 'tap';
import { applyInstanceType, instanceTypeConfig } from '../../../lib/server/instance/instance-types';

t.test('resource instance types as Incus parses them', async (t) => {
  t.same(instanceTypeConfig('c0.5-m0.2'), { 'limits.cpu': '1', 'limits.cpu.allowance': '50%', 'limits.memory': '204MiB' });
  t.same(instanceTypeConfig('c2-m4'), { 'limits.cpu': '2', 'limits.memory': '4096MiB' });
  t.same(instanceTypeConfig('c1.5'), { 'limits.cpu': '2', 'limits.cpu.allowance': '75%' });
  t.same(instanceTypeConfig('d10'), {});
  t.throws(() => instanceTypeConfig('t2.micro'), /Provided instance type doesn't exist: t2.micro/);
  t.throws(() => instanceTypeConfig('aws:t2.micro'), /Provided instance type doesn't exist/);
  t.throws(() => instanceTypeConfig('cx-m1'), /Bad custom instance type: cx-m1/);
});

t.test('explicit config wins over the instance type', async (t) => {
  const body = { instance_type: 'c0.5-m0.2', config: { 'limits.memory': '1GiB' } };
  applyInstanceType(body);
  t.same(body.config, { 'limits.memory': '1GiB', 'limits.cpu': '1', 'limits.cpu.allowance': '50%' });
});
