import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

/**
 * Node's default metrics (CPU, memory, event-loop lag, GC, handles), once per process: the
 * process is one, however many apps or workers a test builds in it, and each collection
 * installs observers that would otherwise pile up.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** What a scrape answers: the process's metrics, then the component's own (registries share one text format). */
export async function exposition(own: Registry): Promise<{ contentType: string; body: string }> {
  const [processText, ownText] = await Promise.all([processMetrics().metrics(), own.metrics()]);
  return { contentType: own.contentType, body: `${processText}\n${ownText}` };
}

/** Every metric name a scrape of `own` can show (the dashboard test checks its queries against these). */
export function metricNames(own: Registry): string[] {
  return [...processMetrics().getMetricsAsArray(), ...own.getMetricsAsArray()].map((m) => m.name);
}
