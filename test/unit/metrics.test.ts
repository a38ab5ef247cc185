import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { methodLabel, routeLabel, UNMATCHED_ROUTE } from '../../api/metrics/http';
import { ApiMetrics } from '../../api/metrics/registry';
import { loadApiConfig, loadWorkerConfig } from '../../shared/config';
import { PermanentJobError } from '../../shared/errors';
import { metricNames } from '../../shared/metrics/exposition';
import { errorClass, WorkerMetrics } from '../../worker/metrics/worker-metrics';
import { parseExposition, valueOf } from '../support/metrics';

const ROOT = path.resolve(__dirname, '../../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** Every metric name a scrape of the API or of a worker can show (nothing is scraped: the registries only name them). */
function registeredNames(): Set<string> {
  const api = new ApiMetrics({ dataSource: undefined as never, queue: undefined as never });
  return new Set([...metricNames(api.registry), ...metricNames(new WorkerMetrics('postgres').registry)]);
}

/**
 * Where PromQL's own grammar (the Prometheus project's parser, as its web UI uses) finds a syntax
 * error in an expression; Grafana's variables (`$__rate_interval`…) stand for a duration.
 */
function promqlErrors(expr: string): string[] {
  const text = expr.replace(/\$__[a-z_]+/gi, '5m');
  const errors: string[] = [];
  promql.parse(text).iterate({
    enter: (node) => {
      if (node.type.isError)
        errors.push(`at ${node.from}: …${text.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
    },
  });
  return errors;
}

/** The odsim_ metrics a text refers to, with the histogram series suffixes taken off. */
function referencedMetrics(text: string): Set<string> {
  return new Set([...text.matchAll(/odsim_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
}

describe('metrics', () => {
  describe('route label', () => {
    it('is the route pattern that answered, under its router’s mount path', () => {
      expect(routeLabel({ baseUrl: '', route: { path: '/admin/instances/:id' } })).to.equal('/admin/instances/:id');
      expect(routeLabel({ baseUrl: '/admin', route: { path: '/jobs/:id' } })).to.equal('/admin/jobs/:id');
      expect(routeLabel({ baseUrl: '', route: { path: '/' } })).to.equal('/');
    });

    it('is one fixed label when no route answered, or the route is not a plain pattern', () => {
      expect(routeLabel({ baseUrl: '/admin' })).to.equal(UNMATCHED_ROUTE);
      expect(routeLabel({ route: { path: /re/ } })).to.equal(UNMATCHED_ROUTE);
      expect(routeLabel({ route: { path: ['/a', '/b'] } })).to.equal(UNMATCHED_ROUTE);
    });

    it('keeps known methods and folds any other into OTHER', () => {
      expect(['GET', 'DELETE', 'PROPFIND', 'get'].map(methodLabel)).to.deep.equal(['GET', 'DELETE', 'OTHER', 'OTHER']);
    });
  });

  describe('error class', () => {
    const transientIfCode55 = (err: unknown) => (err as { code?: string }).code === '55006';
    it('is refused for the manager’s own refusal, transient as the driver says, permanent otherwise', () => {
      expect(errorClass(new PermanentJobError('not ours'), () => true)).to.equal('refused');
      expect(errorClass(Object.assign(new Error('in use'), { code: '55006' }), transientIfCode55)).to.equal(
        'transient',
      );
      expect(errorClass(Object.assign(new Error('syntax'), { code: '42601' }), transientIfCode55)).to.equal(
        'permanent',
      );
    });
  });

  describe('worker job runs', () => {
    it('times the clone between create.cloning and create.cloned, and counts outcomes and retries', () => {
      const metrics = new WorkerMetrics('postgres');
      const run = metrics.jobRun('create', () => true);
      run.step('create.cloned'); // no clone under way: nothing observed
      run.step('create.cloning');
      run.error(new Error('lost'));
      run.retried();
      run.step('create.cloning');
      run.step('create.cloned');
      run.ended('succeeded');
      return metrics.registry.metrics().then((text) => {
        const s = parseExposition(text);
        expect(valueOf(s, 'odsim_copy_duration_seconds_count', { engine: 'postgres' })).to.equal(1);
        expect(valueOf(s, 'odsim_jobs_total', { type: 'create', outcome: 'retried' })).to.equal(1);
        expect(valueOf(s, 'odsim_jobs_total', { type: 'create', outcome: 'succeeded' })).to.equal(1);
        expect(valueOf(s, 'odsim_jobs_total', { type: 'delete', outcome: 'failed' })).to.equal(0);
        expect(valueOf(s, 'odsim_database_server_errors_total', { engine: 'postgres', class: 'transient' })).to.equal(
          1,
        );
        expect(valueOf(s, 'odsim_job_duration_seconds_count', { type: 'create', outcome: 'succeeded' })).to.equal(1);
      });
    });
  });

  describe('settings', () => {
    it('opens no metrics listener unless METRICS_PORT is set, and binds it to loopback unless METRICS_HOST says otherwise', () => {
      expect(loadApiConfig({}).metrics).to.deep.equal({ port: null, host: '127.0.0.1' });
      expect(loadWorkerConfig({ METRICS_PORT: '9464' }).metrics).to.deep.equal({ port: 9464, host: '127.0.0.1' });
      expect(loadWorkerConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics.host).to.equal('0.0.0.0');
      expect(() => loadApiConfig({ METRICS_PORT: '70000' })).to.throw(/METRICS_PORT/);
    });
  });

  describe('dashboard, alert rules and docs', () => {
    const names = registeredNames();
    const dashboard = JSON.parse(read('deploy/observability/grafana-dashboard.json')) as {
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    const rules = parse(read('deploy/observability/prometheus-rules.yaml')) as {
      groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[];
    };

    it('the dashboard queries only metrics the API and worker register, in every panel', () => {
      const graphs = dashboard.panels.filter((p) => p.type !== 'row');
      expect(graphs.length).to.be.at.least(12);
      for (const panel of graphs) {
        const exprs = (panel.targets ?? []).map((t) => t.expr);
        expect(exprs, panel.title).to.not.be.empty;
        for (const metric of referencedMetrics(exprs.join('\n')))
          expect(names.has(metric), `${panel.title}: ${metric}`).to.equal(true);
      }
    });

    it('the alert rules refer only to registered metrics, and cover the failures asked for', () => {
      const all = rules.groups.flatMap((g) => g.rules);
      for (const rule of all)
        for (const metric of referencedMetrics(rule.expr))
          expect(names.has(metric), `${rule.alert}: ${metric}`).to.equal(true);
      expect(all.map((r) => r.alert)).to.include.members([
        'OdsimJobFailed',
        'OdsimNoWorkerAlive',
        'OdsimQueueNotDraining',
        'OdsimDrift',
        'OdsimInventoryStale',
      ]);
      expect(all.find((r) => r.alert === 'OdsimNoWorkerAlive')?.for).to.equal('2m');
    });

    it('every expression of the dashboard and the alert rules is valid PromQL', () => {
      const exprs = [
        ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
        ...rules.groups.flatMap((g) => g.rules).map((r) => ({ where: r.alert, expr: r.expr })),
      ];
      expect(exprs.length).to.be.greaterThan(15);
      for (const { where, expr } of exprs) expect(promqlErrors(expr), `${where}: ${expr}`).to.deep.equal([]);
      // The check itself finds a broken expression.
      expect(promqlErrors('sum by (type (increase(odsim_jobs_total[5m]))')).to.not.be.empty;
    });

    it('docs/observability.md describes every odsim_ metric registered', () => {
      const documented = referencedMetrics(read('docs/observability.md'));
      for (const name of names) if (name.startsWith('odsim_')) expect(documented.has(name), name).to.equal(true);
    });
  });
});
