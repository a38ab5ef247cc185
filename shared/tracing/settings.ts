import { ConfigurationError } from '../errors';
import { redactUrl } from '../urls';

/**
 * Whether and where the process sends its traces (docs/tracing.md), read from OpenTelemetry's
 * own variables. Tracing is on only with OTEL_TRACES_EXPORTER=otlp: an endpoint alone (a
 * platform may set OTEL_EXPORTER_OTLP_ENDPOINT for every pod, for metrics or logs) never starts
 * sending this manager's statements and routes anywhere.
 */
export type TracingSettings =
  | {
      enabled: false;
      /** Why an endpoint that is set stays unused, for a warning at start-up. */ unusedEndpoint?: string;
    }
  | {
      enabled: true;
      /** The full URL spans are POSTed to (…/v1/traces). */
      tracesUrl: string;
      serviceName: string;
      /** OTEL_BSP_SCHEDULE_DELAY: milliseconds between two exports. */
      exportDelayMs: number;
    };

export type TracedService = 'api' | 'worker';

/** The OTLP/HTTP default of the specification: a collector beside the process. */
const DEFAULT_ENDPOINT = 'http://localhost:4318';
const TRACES_PATH = 'v1/traces';
const DEFAULT_EXPORT_DELAY_MS = 5000;

export function defaultServiceName(service: TracedService): string {
  return `odsim-${service}`;
}

export function loadTracingSettings(env: NodeJS.ProcessEnv, service: TracedService): TracingSettings {
  const read = (name: string) => (env[name] ?? '').trim();
  const problems: string[] = [];
  const exporters = read('OTEL_TRACES_EXPORTER')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  const unknown = exporters.filter((e) => e !== 'otlp' && e !== 'none');
  if (unknown.length)
    problems.push(`OTEL_TRACES_EXPORTER=${JSON.stringify(read('OTEL_TRACES_EXPORTER'))}: only otlp or none`);
  const endpointSetting = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
    ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
    : read('OTEL_EXPORTER_OTLP_ENDPOINT')
      ? 'OTEL_EXPORTER_OTLP_ENDPOINT'
      : undefined;
  const sdkDisabled = ['true', '1'].includes(read('OTEL_SDK_DISABLED').toLowerCase());
  const on = exporters.includes('otlp') && !exporters.includes('none') && !sdkDisabled;
  if (!on) {
    if (problems.length) throw new ConfigurationError(problems);
    return endpointSetting ? { enabled: false, unusedEndpoint: endpointSetting } : { enabled: false };
  }

  // The signal-specific variable is the URL itself; the general one is a base the path is added to.
  const tracesUrl = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
    ? read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
    : `${(read('OTEL_EXPORTER_OTLP_ENDPOINT') || DEFAULT_ENDPOINT).replace(/\/+$/, '')}/${TRACES_PATH}`;
  if (!/^https?:\/\/[^/]/i.test(tracesUrl) || !isUrl(tracesUrl))
    problems.push(
      `${endpointSetting ?? 'OTEL_EXPORTER_OTLP_ENDPOINT'}=${redactUrl(tracesUrl)}: not an http:// or https:// URL`,
    );
  // Only the JSON encoding is installed (@opentelemetry/exporter-trace-otlp-http); a collector takes it on 4318.
  const protocolSetting = ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'].find((name) =>
    read(name),
  );
  if (protocolSetting && read(protocolSetting) !== 'http/json')
    problems.push(
      `${protocolSetting}=${JSON.stringify(read(protocolSetting))}: this build sends OTLP over HTTP as JSON only (http/json)`,
    );
  const delay = read('OTEL_BSP_SCHEDULE_DELAY');
  const exportDelayMs = delay ? Number(delay) : DEFAULT_EXPORT_DELAY_MS;
  if (!Number.isInteger(exportDelayMs) || exportDelayMs < 1 || exportDelayMs > 600_000)
    problems.push(`OTEL_BSP_SCHEDULE_DELAY=${JSON.stringify(delay)}: milliseconds, from 1 to 600000`);
  const serviceName = read('OTEL_SERVICE_NAME') || defaultServiceName(service);
  if (problems.length) throw new ConfigurationError(problems);
  return { enabled: true, tracesUrl, serviceName, exportDelayMs };
}

function isUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}
