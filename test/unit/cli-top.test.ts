/** `incus top`'s rows from an OpenMetrics scrape, sorting and the table. */
import t from 'tap';
import { topTable } from '../../lib/cli/commands/top';
import { sortTopRows, topRows } from '../../lib/cli/commands/top-metrics';

const SCRAPE = `# HELP incus_cpu_seconds_total The total number of CPU time used in seconds.
# TYPE incus_cpu_seconds_total counter
incus_cpu_seconds_total{cpu="0",mode="system",name="c1",project="default",type="container"} 1.5
incus_cpu_seconds_total{cpu="0",mode="user",name="c1",project="default",type="container"} 2.25
incus_cpu_seconds_total{cpu="0",mode="idle",name="c1",project="default",type="container"} 100
incus_cpu_seconds_total{cpu="0",mode="user",name="big",project="p2",type="container"} 9
incus_memory_MemTotal_bytes{name="c1",project="default",type="container"} 1073741824
incus_memory_MemAvailable_bytes{name="c1",project="default",type="container"} 536870912
incus_memory_MemTotal_bytes{name="big",project="p2",type="container"} 2147483648
incus_memory_MemAvailable_bytes{name="big",project="p2",type="container"} 0
incus_filesystem_size_bytes{device="",fstype="ext4",mountpoint="/",name="c1",project="default",type="container"} 10485760
incus_filesystem_free_bytes{device="",fstype="ext4",mountpoint="/",name="c1",project="default",type="container"} 5242880
incus_filesystem_size_bytes{device="",fstype="tmpfs",mountpoint="/run",name="c1",project="default",type="container"} 999
incus_uptime_seconds 12
# EOF
`;

t.test('rows: CPU without idle, memory total - available, rootfs size - free', async (t) => {
  const rows = sortTopRows(topRows(SCRAPE), 'a');
  t.same(rows, [
    { project: 'default', name: 'c1', cpuSeconds: 3.75, memoryBytes: 536870912, diskBytes: 5242880 },
    { project: 'p2', name: 'big', cpuSeconds: 9, memoryBytes: 2147483648, diskBytes: 0 },
  ]);
  t.same(sortTopRows(rows, 'c').map((r) => r.name), ['big', 'c1'], 'by CPU');
  t.same(sortTopRows(rows, 'd').map((r) => r.name), ['c1', 'big'], 'by disk');
});

t.test('table: Incus columns, empty cells for zero', async (t) => {
  const text = topTable(topRows(SCRAPE), 'enumD', 'csv', 'a');
  t.equal(text, 'default,c1,3.75,512.00MiB,5.00MiB\np2,big,9.00,2.00GiB,\n');
  t.throws(() => topTable([], 'nx', 'table', 'a'), /Unknown column/);
});
