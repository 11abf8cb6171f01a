/**
 * One `/1.0/metrics` scrape: the daemon's own samples plus the instances'
 * of the projects asked for. Instance samples are cached per project for
 * 8 seconds, as Incus does for concurrent scrapers; one build runs at a time
 * and a scrape that waited for it reuses what it cached. Running instances
 * are read in batches per driver, and their samples kept as text.
 */
import type { MetricsTarget } from '../instance/interface';
import type { DaemonState } from '../state';
import { messageOf } from '../errors';
import { readHostFacts } from './instance-metrics';
import { internalMetrics } from './internal-metrics';
import { type MetricSet, MetricText } from './openmetrics';

/** How long instance samples are reused (Incus: 8 seconds). */
export const METRICS_CACHE_MS = 8_000;

interface CacheEntry {
  expiry: number;
  text: MetricText;
}

/** What a scrape read: the daemon's samples, and each project's instance samples. */
export interface Scrape {
  daemon: MetricSet;
  instances: Map<string, MetricText>;
}

export class MetricsCollector {
  private readonly cache = new Map<string, CacheEntry>();
  private building: Promise<void> = Promise.resolve();

  constructor(private readonly s: DaemonState) {}

  /** Samples of `project`'s instances (every project's when null) and of the daemon. */
  async scrape(project: string | null): Promise<Scrape> {
    const projects = project !== null ? [project] : (await this.s.db.projects.list()).map((p) => p.name);
    let run: Promise<void> | undefined;
    if (this.stale(projects).length > 0) {
      // One build at a time: a scrape that waited finds the projects it needs fresh.
      run = this.building.then(() => this.build(this.stale(projects)));
      this.building = run.catch(() => undefined);
    }
    // The daemon's own samples are read while the build waits on its native reads.
    const daemon = await internalMetrics(this.s);
    await run;
    const instances = new Map<string, MetricText>();
    for (const p of projects) {
      const text = this.cache.get(p)?.text;
      if (text) instances.set(p, text);
    }
    return { daemon, instances };
  }

  private stale(projects: readonly string[]): string[] {
    const now = Date.now();
    return projects.filter((p) => (this.cache.get(p)?.expiry ?? 0) <= now);
  }

  private async build(projects: readonly string[]): Promise<void> {
    if (projects.length === 0) return;
    const targets: MetricsTarget[] = [];
    for (const p of projects) {
      const profiles = await this.s.instances.profileLookup([p]);
      const recs = await this.s.db.instances.listLocal(p);
      const loaded = await this.s.instances.metricsTargets(recs, profiles, (rec, err) => {
        this.s.log.warn('Failed loading instance for metrics', { instance: rec.name, project: p, err: messageOf(err) });
      });
      for (const t of loaded) targets.push(t);
    }
    const host = await readHostFacts();
    const fresh = new Map(projects.map((p) => [p, new MetricText()]));
    await this.s.drivers.metrics(targets, host, (t) => fresh.get(t.project)!);
    const expiry = Date.now() + METRICS_CACHE_MS;
    for (const [p, text] of fresh) this.cache.set(p, { expiry, text });
  }
}
