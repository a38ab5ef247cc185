import { expect } from 'chai';
import { ConfigurationError } from '../../shared/errors';
import { loadTracingSettings } from '../../shared/tracing/settings';
import { statementSummary } from '../../shared/tracing/spans';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadTracingSettings(env, 'api');
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigurationError);
    return (err as ConfigurationError).problems;
  }
  throw new Error('expected a ConfigurationError');
}

describe('tracing settings', () => {
  it('is off with an empty environment', () => {
    expect(loadTracingSettings({}, 'api')).to.deep.equal({ enabled: false });
  });

  it('stays off with an endpoint but no OTEL_TRACES_EXPORTER=otlp, and says which endpoint goes unused', () => {
    expect(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'worker')).to.deep.equal({
      enabled: false,
      unusedEndpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    });
    expect(
      loadTracingSettings(
        { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/v1/traces' },
        'api',
      ),
    ).to.deep.equal({ enabled: false, unusedEndpoint: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' });
  });

  it('is on with OTEL_TRACES_EXPORTER=otlp, sending to the specification’s default collector address', () => {
    expect(loadTracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' }, 'worker')).to.deep.equal({
      enabled: true,
      tracesUrl: 'http://localhost:4318/v1/traces',
      serviceName: 'odsim-worker',
      exportDelayMs: 5000,
    });
  });

  it('adds /v1/traces to the general endpoint, and takes the traces endpoint as it is', () => {
    const on = { OTEL_TRACES_EXPORTER: 'otlp' };
    expect(loadTracingSettings({ ...on, OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example:4318/' }, 'api')).to.include(
      {
        tracesUrl: 'https://otel.example:4318/v1/traces',
        serviceName: 'odsim-api',
      },
    );
    expect(
      loadTracingSettings(
        {
          ...on,
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/otlp/v1/traces',
          OTEL_SERVICE_NAME: 'odsim-api-eu',
          OTEL_BSP_SCHEDULE_DELAY: '250',
        },
        'api',
      ),
    ).to.deep.equal({
      enabled: true,
      tracesUrl: 'http://tempo:4318/otlp/v1/traces',
      serviceName: 'odsim-api-eu',
      exportDelayMs: 250,
    });
  });

  it('stays off when OTEL_SDK_DISABLED=true, whatever else is set', () => {
    expect(loadTracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }, 'api')).to.deep.equal({
      enabled: false,
    });
  });

  it('refuses exporters, protocols and delays it cannot honour, naming the setting', () => {
    expect(problemsOf({ OTEL_TRACES_EXPORTER: 'zipkin' })).to.deep.equal([
      'OTEL_TRACES_EXPORTER="zipkin": only otlp or none',
    ]);
    const on = { OTEL_TRACES_EXPORTER: 'otlp' };
    expect(problemsOf({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })[0]).to.match(
      /^OTEL_EXPORTER_OTLP_PROTOCOL="grpc": .*http\/json/,
    );
    // The traces' own protocol wins over the general one.
    expect(
      loadTracingSettings(
        { ...on, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
        'api',
      ).enabled,
    ).to.equal(true);
    expect(problemsOf({ ...on, OTEL_BSP_SCHEDULE_DELAY: 'soon' })[0]).to.match(/^OTEL_BSP_SCHEDULE_DELAY="soon"/);
    expect(problemsOf({ ...on, OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })[0]).to.match(
      /^OTEL_EXPORTER_OTLP_ENDPOINT=.*not an http/,
    );
  });

  it('never quotes credentials in an endpoint it refuses', () => {
    const [problem] = problemsOf({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://user:hunter2@collector/v1/traces',
    });
    expect(problem).to.match(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=/);
    expect(problem).to.not.include('hunter2');
  });
});

describe('statement span names', () => {
  it('name the verb, and the object of DDL', () => {
    expect(statementSummary('CREATE DATABASE "x" TEMPLATE "y"')).to.equal('CREATE DATABASE');
    expect(statementSummary('  drop database if exists "x"')).to.equal('DROP DATABASE');
    expect(statementSummary('SELECT datname FROM pg_database')).to.equal('SELECT');
    expect(statementSummary('ALTER DATABASE [x] MODIFY NAME = [y]')).to.equal('ALTER DATABASE');
    expect(statementSummary("-- a note\nBACKUP DATABASE [x] TO DISK = N'/b'")).to.equal('BACKUP');
  });
});
