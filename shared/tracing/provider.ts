import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  SpanKind,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type Sampler,
  type SamplingResult,
  SamplingDecision,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { BullMQOtel } from 'bullmq-otel';
import type { Logger } from '../logger';
import { redactUrl } from '../urls';
import { withTimeout } from '../retry';
import type { TracingSettings } from './settings';

/**
 * The process's tracer provider (docs/tracing.md): started by main.ts when the settings say so,
 * flushed and removed on shutdown. While it is not started every span of this code base is the
 * no-op API's, and the queue carries no telemetry at all.
 */
export interface Tracing {
  /** Sends what is buffered and unregisters the provider; safe to call twice. */
  shutdown(): Promise<void>;
}

let active: { telemetry: BullMQOtel } | undefined;

/** The BullMQ telemetry for Queue and Worker options: undefined while tracing is off. */
export function queueTelemetry(): BullMQOtel | undefined {
  return active?.telemetry;
}

export function tracingActive(): boolean {
  return active !== undefined;
}

export function serviceVersion(): string {
  try {
    // dist/shared/tracing/ → the package root, where package.json is in the source tree and the image.
    const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * BullMQ traces its own housekeeping too: a `getNextJob` span each time a blocking wait for
 * work ends empty, `moveStalledJobsToWait` each stalled check. As roots they would be a trace
 * every few seconds per worker with nothing in it; inside a job's trace they stay.
 */
const HOUSEKEEPING = /^(getNextJob|moveStalledJobsToWait|startStalledCheckTimer) /;

class QuietHousekeepingSampler implements Sampler {
  shouldSample(
    _context: Context,
    _traceId: string,
    spanName: string,
    spanKind: SpanKind,
    _attributes: Attributes,
    _links: Link[],
  ): SamplingResult {
    return {
      decision:
        spanKind === SpanKind.INTERNAL && HOUSEKEEPING.test(spanName)
          ? SamplingDecision.NOT_RECORD
          : SamplingDecision.RECORD_AND_SAMPLED,
    };
  }

  toString(): string {
    return 'QuietHousekeepingSampler';
  }
}

/** Registers the provider, the W3C propagator and the async context manager; null when the settings say off. */
export function startTracing(settings: TracingSettings, log: Logger): Tracing | null {
  if (!settings.enabled) {
    if (settings.unusedEndpoint)
      log.info(`${settings.unusedEndpoint} is set but OTEL_TRACES_EXPORTER is not otlp: tracing is off`, {
        event: 'tracing.off',
      });
    return null;
  }
  if (active) throw new Error('tracing is already started in this process');
  // The SDK's own complaints (a collector that cannot be reached) as warnings in our log, never per span.
  diag.setLogger(
    {
      error: (message) => log.warn('tracing: ' + message, { event: 'tracing.error' }),
      warn: (message) => log.warn('tracing: ' + message, { event: 'tracing.error' }),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  const version = serviceVersion();
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: version }),
    ),
    // An upstream caller's sampling decision is kept; our own roots are all sampled but BullMQ's idle loops.
    sampler: new ParentBasedSampler({ root: new QuietHousekeepingSampler() }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.tracesUrl }), {
        scheduledDelayMillis: settings.exportDelayMs,
      }),
    ],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  // BullMQ's spans under its own scope name; the job carries the W3C context in its options.
  active = { telemetry: new BullMQOtel('bullmq', version) };
  log.info('tracing on', {
    event: 'tracing.started',
    endpoint: redactUrl(settings.tracesUrl),
    serviceName: settings.serviceName,
    serviceVersion: version,
  });

  let stopping: Promise<void> | undefined;
  return {
    shutdown() {
      stopping ??= (async () => {
        active = undefined;
        try {
          // Bounded: an unreachable collector must not hold up the process's exit.
          await withTimeout(provider.shutdown(), 5000, 'tracing shutdown timed out');
        } catch (err) {
          log.warn('spans not sent at shutdown', { event: 'tracing.flush_failed', error: (err as Error).message });
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
          diag.disable();
        }
      })();
      return stopping;
    },
  };
}
