/**
 * One `/1.0/metrics` scrape: the daemon's own samples plus the instances'
 * of the projects asked for. Instance samples are cached per project for
 * 8 seconds, as Incus does for concurrent scrapers; one build runs at a time
 * and a scrape that waited for it reuses what it cached. All running
 * instances are read in one batched call per driver.
 */
import type { InstanceRuntime } from '../instance/interface';
import type { DaemonState } from '../state';
import { messageOf } from '../errors';
import { readHostFacts } from './instance-metrics';
import { internalMetrics } from './internal-metrics';
import { MetricSet } from './openmetrics';

/** How long instance samples are reused (Incus: 8 seconds). */
export const METRICS_CACHE_MS = 8_000;

interface CacheEntry {
  expiry: number;
  set: MetricSet;
}

export class MetricsCollector {
  private readonly cache = new Map<string, CacheEntry>();
  private building: Promise<void> = Promise.resolve();

  constructor(private readonly s: DaemonState) {}

  /** Samples of `project`'s instances (every project when null) and of the daemon. */
  async scrape(project: string | null): Promise<MetricSet> {
    const projects = project !== null ? [project] : (await this.s.db.projects.list()).map((p) => p.name);
    const out = new MetricSet();
    out.merge(await internalMetrics(this.s));
    if (this.stale(projects).length > 0) {
      // One build at a time: a scrape that waited finds the projects it needs fresh.
      const run = this.building.then(() => this.build(this.stale(projects)));
      this.building = run.catch(() => undefined);
      await run;
    }
    for (const p of projects) out.merge(this.cache.get(p)?.set);
    return out;
  }

  private stale(projects: readonly string[]): string[] {
    const now = Date.now();
    return projects.filter((p) => (this.cache.get(p)?.expiry ?? 0) <= now);
  }

  private async build(projects: readonly string[]): Promise<void> {
    if (projects.length === 0) return;
    const runtimes: InstanceRuntime[] = [];
    for (const p of projects) {
      // Loaded together (reads only); kept in list order, the failed ones left out.
      const profiles = await this.s.instances.profileLookup([p]);
      const loaded = await Promise.all(
        (await this.s.db.instances.list(p)).map((rec) =>
          this.s.instances.runtime(rec, profiles).catch((err: unknown) => {
            this.s.log.warn('Failed loading instance for metrics', { instance: rec.name, project: p, err: messageOf(err) });
            return null;
          }),
        ),
      );
      for (const rt of loaded) if (rt) runtimes.push(rt);
    }
    const host = await readHostFacts();
    const sets = await this.s.drivers.metrics(runtimes, host);
    const fresh = new Map(projects.map((p) => [p, new MetricSet()]));
    sets.forEach((set, i) => fresh.get(runtimes[i]!.project)?.merge(set));
    const expiry = Date.now() + METRICS_CACHE_MS;
    for (const [p, set] of fresh) this.cache.set(p, { expiry, set });
  }
}
