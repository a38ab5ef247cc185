import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { workerSecretsIn } from '../../shared/config';
import { ROLES } from '../../shared/roles';
import { SHUTDOWN_GRACE_MS } from '../../shared/shutdown';
import { startStack } from '../support/stack';

/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/kubernetes) hold the product's
 * promises: the API never holds the worker's secrets, every process is probed and stopped within
 * its budget, one image runs both roles. Rendered with the real tools when they are installed
 * (`docker-compose config`, `kubectl kustomize`), which skip, saying so, when they are not.
 */
const ROOT = path.resolve(__dirname, '../../..');
const K8S = path.join(ROOT, 'deploy/kubernetes');
type Doc = Record<string, any>;

function has(command: string): boolean {
  return spawnSync(command, ['--help'], { stdio: 'ignore' }).status === 0;
}

function skipWithout(context: Mocha.Context, command: string, install: string): void {
  if (has(command)) return;
  console.log(`      skipped: no \`${command}\` on the PATH (${install})`);
  context.skip();
}

/** `1m30s`, `40s` as compose writes them, in milliseconds. */
function durationMs(text: string): number {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(String(text));
  if (!match || (!match[1] && !match[2])) throw new Error(`not a duration: ${text}`);
  return (Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0)) * 1000;
}

describe('deployment files', function () {
  describe('the container image', () => {
    it('runs both roles through the entry point, checks its health, runs as non-root, and keeps its context small', () => {
      const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
      // The runtime stage, continuation lines joined.
      const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime')).replace(/\\\n\s*/g, '');
      const instruction = (name: string) => [...runtime.matchAll(new RegExp(`^${name} (.*)$`, 'gm'))].map((m) => m[1]!);
      expect(instruction('ENTRYPOINT')).to.deep.equal(['["node", "dist/shared/entrypoint.js"]']);
      expect(instruction('CMD')).to.deep.equal(['["api"]']);
      expect(instruction('USER')).to.deep.equal(['node']);
      expect(instruction('HEALTHCHECK')).to.have.length(1);
      expect(instruction('HEALTHCHECK')[0]).to.match(/CMD \["node", "dist\/shared\/healthcheck\.js"\]$/);
      expect(runtime).to.include('COPY --from=build /app/dist/shared ./dist/shared');
      // What the image runs is what the build makes.
      for (const file of ['dist/shared/entrypoint.js', 'dist/shared/healthcheck.js'])
        expect(existsSync(path.join(ROOT, file)), file).to.equal(true);

      const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
      for (const entry of [
        '.git',
        'node_modules',
        'dist',
        'test',
        'bench',
        'docs',
        'deploy',
        '.env',
        '.env.*',
        '.data',
      ])
        expect(ignored, entry).to.include(entry);
      // The build needs the sources and the web UI's.
      for (const needed of ['api', 'worker', 'shared', 'web', 'package.json', 'package-lock.json', 'tsconfig.json'])
        expect(ignored, needed).not.to.include(needed);
    });
  });

  describe('docker-compose.yml', function () {
    const dummies = {
      POSTGRES_PASSWORD: 'pg0dummy0password',
      TOKEN_SIGNING_KEY: 'token0dummy0key0'.repeat(3),
      MSSQL_SA_PASSWORD: 'Mssql-dummy0password',
    };
    let rendered: { services: Record<string, Doc> };
    let withProfile: { services: Record<string, Doc> };

    before(function () {
      const raw = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
      if (!has('docker-compose')) {
        // The invariants still hold in the file itself: merge keys resolved, ${…} filled in as compose would.
        console.log(
          "      docker-compose is not on the PATH (Debian's `apt-get install -y docker-compose`; .ci/run installs it): " +
            'checking the file as parsed, not as compose renders it',
        );
        const filled = raw.replace(
          /\$\{([A-Z_]+)(?::?[-?][^}]*)?\}/g,
          (_m, name: string) => dummies[name as keyof typeof dummies] ?? '',
        );
        rendered = withProfile = parseYaml(filled, { merge: true });
        return;
      }
      const config = (...args: string[]) =>
        parseYaml(
          execFileSync('docker-compose', ['-f', 'docker-compose.yml', ...args, 'config'], {
            cwd: ROOT,
            env: { PATH: process.env.PATH ?? '', ...dummies },
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        );
      rendered = config();
      withProfile = config('--profile', 'sqlserver');
    });

    it('keeps a durable Redis for a job queue that never evicts', () => {
      const command: string[] = rendered.services.redis!.command;
      const value = (flag: string) => command[command.indexOf(flag) + 1];
      expect(value('--appendonly')).to.equal('yes');
      expect(value('--appendfsync')).to.equal('everysec');
      expect(value('--maxmemory-policy')).to.equal('noeviction');
      expect(rendered.services.redis!.volumes.map((v: string) => v.split(':')[1])).to.include('/data');
    });

    it("gives the worker's secrets to the workers only, and every secret from the environment", () => {
      const services = rendered.services;
      const api = Object.keys(services).filter((name) => services[name]!.command?.[0] === 'api');
      const workers = Object.keys(services).filter((name) => services[name]!.command?.[0] === 'worker');
      expect(api).to.have.members(['api', 'api-sqlserver']);
      expect(workers).to.have.members(['worker', 'worker-sqlserver']);
      for (const name of api) {
        expect(workerSecretsIn(services[name]!.environment), name).to.deep.equal([]);
        expect(services[name]!.environment.TOKEN_SIGNING_KEY).to.equal(dummies.TOKEN_SIGNING_KEY);
      }
      for (const name of workers) {
        expect(services[name]!.environment.ODS_SERVER_URL, name).to.be.a('string').that.is.not.empty;
        expect(services[name]!.environment.TOKEN_SIGNING_KEY, name).to.equal(undefined);
      }
      // One image, the role chosen by the command.
      const images = new Set([...api, ...workers].map((name) => services[name]!.image));
      expect(images.size).to.equal(1);
      for (const name of [...api, ...workers]) expect(ROLES).to.include(services[name]!.command[0]);
      // Every password in a URL, and every secret setting, is interpolated, never written down.
      const raw = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
      const urlPasswords = [...raw.matchAll(/:\/\/[^:\s/'"]+:(\$\{[^}]*\}|[^@\s]+)@/g)].map((m) => m[1]!);
      expect(urlPasswords).to.have.length.greaterThan(3);
      for (const password of urlPasswords) expect(password).to.match(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
      const settings = [...raw.matchAll(/^\s+([A-Z_]*(?:PASSWORD|KEY|SECRET)[A-Z_]*): (.*)$/gm)];
      expect(settings).to.have.length.greaterThan(3);
      for (const [, name, value] of settings) expect(value, name).to.match(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
    });

    it('probes every service, runs at least two workers and waits out their shutdown', () => {
      for (const [name, service] of Object.entries(rendered.services))
        expect(service.healthcheck?.test, `${name} healthcheck`).to.be.an('array').that.is.not.empty;
      for (const name of ['worker', 'worker-sqlserver']) {
        const worker = rendered.services[name]!;
        expect(worker.deploy.replicas, name).to.be.at.least(2);
        expect(durationMs(worker.stop_grace_period), name).to.be.greaterThan(SHUTDOWN_GRACE_MS);
        expect(worker.healthcheck.test).to.deep.equal(['CMD', 'node', 'dist/shared/healthcheck.js', 'worker']);
        expect(worker.environment).to.include({ METRICS_HOST: '0.0.0.0', METRICS_PORT: '9464' });
      }
      expect(durationMs(rendered.services.api!.stop_grace_period)).to.be.greaterThan(SHUTDOWN_GRACE_MS);
      expect(rendered.services.api!.healthcheck.test).to.deep.equal([
        'CMD',
        'node',
        'dist/shared/healthcheck.js',
        'api',
      ]);
    });

    it('keeps SQL Server and its deployment under the sqlserver profile', () => {
      const profiled = Object.keys(rendered.services).filter((n) => rendered.services[n]!.profiles);
      expect(profiled).to.have.members(['sqlserver', 'api-sqlserver', 'worker-sqlserver']);
      for (const name of profiled) expect(rendered.services[name]!.profiles).to.deep.equal(['sqlserver']);
      for (const [name, service] of Object.entries(rendered.services)) {
        if (service.profiles) continue;
        expect(JSON.stringify(service), name).not.to.match(/sqlserver|mssql/);
      }
      const sqlserver = withProfile.services.sqlserver!;
      expect(sqlserver.image).to.equal('mcr.microsoft.com/mssql/server:2022-latest');
      expect(sqlserver.environment).to.include({ ACCEPT_EULA: 'Y', MSSQL_SA_PASSWORD: dummies.MSSQL_SA_PASSWORD });
      const worker = withProfile.services['worker-sqlserver']!;
      expect(worker.environment.ODS_ENGINE).to.equal('mssql');
      const url = new URL(worker.environment.ODS_SERVER_URL);
      expect([url.protocol, url.hostname, url.password]).to.deep.equal([
        'mssql:',
        'sqlserver',
        dummies.MSSQL_SA_PASSWORD,
      ]);
      // A deployment of its own: its own admin database, so its own queue.
      const admin = (name: string) => withProfile.services[name]!.environment.ADMIN_DATABASE_URL;
      expect(admin('worker-sqlserver')).to.equal(admin('api-sqlserver'));
      expect(admin('worker-sqlserver')).not.to.equal(admin('worker'));
      expect(withProfile.services['api-sqlserver']!.environment.ODS_ENGINE).to.equal('mssql');
    });
  });

  describe('deploy/kubernetes', function () {
    const yamlFiles = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const file = path.join(dir, name);
        return statSync(file).isDirectory() ? yamlFiles(file) : /\.ya?ml$/.test(name) ? [file] : [];
      });
    const parseDocs = (text: string, source: string): Doc[] =>
      parseAllDocuments(text).flatMap((doc) => {
        if (doc.errors.length) throw new Error(`${source}: ${doc.errors[0]!.message}`);
        const value = doc.toJS() as Doc | null;
        return value ? [value] : [];
      });
    const files = yamlFiles(K8S);
    const fileDocs = files.flatMap((file) => parseDocs(readFileSync(file, 'utf8'), path.relative(ROOT, file)));
    /** What kubectl can render: base and every overlay (a component renders only inside them). */
    const kustomizations = files
      .filter((f) => path.basename(f) === 'kustomization.yaml' && !f.includes('/components/'))
      .map((f) => path.dirname(f));

    it('parses every file: base, overlays, components and secret templates', () => {
      expect(files.length).to.be.at.least(10);
      expect(kustomizations.map((d) => path.relative(K8S, d))).to.include.members(['base', 'overlays/production']);
      const kinds = fileDocs.map((d) => d.kind);
      for (const kind of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'NetworkPolicy'])
        expect(kinds).to.include(kind);
      expect(kinds).to.include('ScaledObject');
    });

    it('holds every invariant in the files as written', () => {
      checkInvariants(fileDocs, { scaledObject: true, secretTemplates: true });
    });

    it("counts with KEDA's query exactly the admin database's unfinished jobs", async () => {
      const scaled = fileDocs.find((d) => d.kind === 'ScaledObject')!;
      const query: string = scaled.spec.triggers[0].metadata.query;
      const stack = await startStack({ worker: false });
      try {
        const count = async () => Number((await stack.dataSource.query(query))[0].count);
        expect(await count()).to.equal(0);
        for (const name of ['keda_a', 'keda_b']) {
          const created = await stack.request('POST', '/admin/instances', {
            body: { instanceName: `KEDA ${name} ${stack.id}`, databaseName: stack.db(name) },
          });
          expect(created.status).to.equal(201);
        }
        expect(await count()).to.equal(2);
        // A running job still needs its worker; a finished one no longer does.
        const [first, second] = await stack.dataSource.query<{ id: string }[]>('SELECT id FROM jobs ORDER BY id');
        await stack.dataSource.query(`UPDATE jobs SET status = 'running' WHERE id = $1`, [first!.id]);
        expect(await count()).to.equal(2);
        await stack.dataSource.query(`UPDATE jobs SET status = 'succeeded' WHERE id = $1`, [second!.id]);
        expect(await count()).to.equal(1);
      } finally {
        await stack.stop();
      }
    });

    it('holds every invariant in what kubectl kustomize renders, for base and every overlay', function () {
      skipWithout(this, 'kubectl', 'kubectl has kustomize built in; install kubectl to render the overlays');
      for (const dir of kustomizations) {
        const output = execFileSync('kubectl', ['kustomize', dir], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const docs = parseDocs(output, path.relative(ROOT, dir));
        const where = path.relative(K8S, dir);
        checkInvariants(docs, { scaledObject: where !== 'base', secretTemplates: false }, where);
        if (where === 'base') {
          expect(deployment(docs, 'worker').spec.replicas, 'base runs workers without KEDA').to.be.at.least(2);
        } else {
          // Under KEDA, apply must not reset the worker count.
          expect(deployment(docs, 'worker').spec.replicas, where).to.equal(undefined);
        }
      }
    });
  });
});

function deployment(docs: Doc[], role: string): Doc {
  const found = docs.filter((d) => d.kind === 'Deployment' && d.spec.template.spec.containers[0].args?.[0] === role);
  expect(found, `the ${role} Deployment`).to.have.length(1);
  return found[0]!;
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Every Secret a pod spec reads: env, envFrom, volumes (plain and projected). */
function secretsOf(pod: Doc): Set<string> {
  const names = new Set<string>();
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) names.add(e.valueFrom.secretKeyRef.name);
    for (const e of c.envFrom ?? []) if (e.secretRef) names.add(e.secretRef.name);
  }
  for (const v of pod.volumes ?? []) {
    if (v.secret) names.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret) names.add(s.secret.name);
  }
  return names;
}

/** The setting names a pod spec gets: its own env, and every key of the ConfigMaps and Secrets it reads whole. */
function settingsOf(pod: Doc, docs: Doc[]): string[] {
  const names: string[] = [];
  for (const c of pod.containers) {
    for (const e of c.env ?? []) names.push(e.name);
    for (const e of c.envFrom ?? []) {
      const ref = e.secretRef ?? e.configMapRef;
      const kind = e.secretRef ? 'Secret' : 'ConfigMap';
      const source = docs.find((d) => d.kind === kind && d.metadata.name === ref.name);
      names.push(...Object.keys({ ...source?.data, ...source?.stringData }));
    }
  }
  return names;
}

function checkInvariants(
  docs: Doc[],
  expect_: { scaledObject: boolean; secretTemplates: boolean },
  where = 'files',
): void {
  const api = deployment(docs, 'api');
  const worker = deployment(docs, 'worker');
  const apiPod = api.spec.template.spec;
  const workerPod = worker.spec.template.spec;
  const secretSetting = (names: string[]) => workerSecretsIn(Object.fromEntries(names.map((n) => [n, 'set'])));

  // The secrets split: the API never reads the worker's Secret, nor gets any of its settings.
  expect([...secretsOf(apiPod)], `${where}: API secrets`).to.deep.equal(['odsim-api']);
  expect([...secretsOf(workerPod)], `${where}: worker secrets`).to.deep.equal(['odsim-worker']);
  const configMaps = docs.filter((d) => d.kind === 'ConfigMap');
  expect(configMaps, where).to.have.length.at.least(1);
  for (const map of configMaps) expect(secretSetting(Object.keys(map.data ?? {})), map.metadata.name).to.deep.equal([]);
  expect(secretSetting(settingsOf(apiPod, docs)), `${where}: API settings`).to.deep.equal([]);
  if (expect_.secretTemplates) {
    const secret = (name: string) => docs.find((d) => d.kind === 'Secret' && d.metadata.name === name)!;
    const keys = (name: string) => Object.keys({ ...secret(name).data, ...secret(name).stringData });
    expect(keys('odsim-api')).to.have.members(['TOKEN_SIGNING_KEY', 'ADMIN_DATABASE_URL']);
    expect(keys('odsim-worker')).to.include.members([
      'ODS_SERVER_URL',
      'EDFI_ADMIN_ENCRYPTION_KEY',
      'ADMIN_DATABASE_URL',
    ]);
    expect(keys('odsim-worker')).not.to.include('TOKEN_SIGNING_KEY');
    expect(settingsOf(workerPod, docs)).to.include.members(['ODS_SERVER_URL', 'EDFI_ADMIN_ENCRYPTION_KEY']);
    // Templates only: every value a placeholder.
    for (const name of ['odsim-api', 'odsim-worker'])
      for (const value of Object.values(secret(name).stringData as Record<string, string>))
        expect(value, name).to.match(/^<REPLACE: .*>$/);
  }

  // One image, the role in its arguments.
  expect(apiPod.containers[0].image, where).to.equal(workerPod.containers[0].image);
  for (const pod of [apiPod, workerPod]) {
    expect(pod.containers, where).to.have.length(1);
    expect(ROLES).to.include(pod.containers[0].args[0]);
  }

  // Every container probed, bounded, unprivileged; writable only where it must be.
  for (const [role, pod] of [
    ['api', apiPod],
    ['worker', workerPod],
  ] as const) {
    const what = `${where}: ${role}`;
    expect(pod.securityContext.runAsNonRoot, what).to.equal(true);
    expect(pod.securityContext.seccompProfile.type, what).to.equal('RuntimeDefault');
    expect(pod.automountServiceAccountToken, what).to.equal(false);
    expect(pod.terminationGracePeriodSeconds * 1000, what).to.be.greaterThan(SHUTDOWN_GRACE_MS);
    for (const c of pod.containers) {
      for (const probe of ['livenessProbe', 'readinessProbe'])
        expect(c[probe]?.httpGet?.path, `${what} ${probe}`).to.match(/^\/health\//);
      expect(c.resources.requests, what).to.include.keys('cpu', 'memory');
      expect(c.resources.limits, what).to.include.keys('memory');
      expect(c.securityContext, what).to.deep.include({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
      expect(c.securityContext.capabilities.drop, what).to.deep.equal(['ALL']);
      const mounts = Object.fromEntries(c.volumeMounts.map((m: Doc) => [m.mountPath, m.name]));
      for (const dir of ['/data', '/tmp']) {
        const volume = pod.volumes.find((v: Doc) => v.name === mounts[dir]);
        expect(volume?.emptyDir, `${what} ${dir}`).to.not.equal(undefined);
      }
    }
  }
  // The API's probes on its HTTP port, the worker's on its metrics listener (9464, METRICS_PORT).
  const port = (pod: Doc, name: string) => pod.containers[0].ports.find((p: Doc) => p.name === name)?.containerPort;
  expect(port(apiPod, 'http'), where).to.equal(3000);
  expect(apiPod.containers[0].readinessProbe.httpGet).to.deep.equal({ path: '/health/ready', port: 'http' });
  expect(port(workerPod, 'metrics'), where).to.equal(9464);
  expect(workerPod.containers[0].livenessProbe.httpGet).to.deep.equal({ path: '/health/live', port: 'metrics' });
  expect(workerPod.containers[0].readinessProbe.httpGet).to.deep.equal({ path: '/health/ready', port: 'metrics' });
  for (const map of configMaps) if (map.data?.METRICS_PORT) expect(map.data.METRICS_PORT).to.equal('9464');
  expect(api.spec.replicas, where).to.be.at.least(2);

  // Selectors: each Deployment selects its own pods, the Service the API's only.
  const apiLabels = api.spec.template.metadata.labels;
  const workerLabels = worker.spec.template.metadata.labels;
  expect(
    matches(api.spec.selector.matchLabels, apiLabels) && !matches(api.spec.selector.matchLabels, workerLabels),
  ).to.equal(true);
  expect(
    matches(worker.spec.selector.matchLabels, workerLabels) && !matches(worker.spec.selector.matchLabels, apiLabels),
  ).to.equal(true);
  const apiService = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'odsim-api')!;
  expect(matches(apiService.spec.selector, apiLabels), `${where}: Service → API`).to.equal(true);
  expect(matches(apiService.spec.selector, workerLabels), `${where}: Service → workers`).to.equal(false);

  const budgets = docs.filter((d) => d.kind === 'PodDisruptionBudget');
  for (const [labels, role] of [
    [apiLabels, 'api'],
    [workerLabels, 'worker'],
  ] as const) {
    const selecting = budgets.filter((b) => matches(b.spec.selector.matchLabels, labels));
    expect(selecting, `${where}: PodDisruptionBudget for the ${role}`).to.have.length(1);
  }

  // Network policies: each role selected, both directions; the worker's only ingress is its metrics port.
  const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
  const policyOf = (labels: Record<string, string>) => {
    const found = policies.filter((p) => matches(p.spec.podSelector.matchLabels, labels));
    expect(found, where).to.have.length(1);
    expect(found[0]!.spec.policyTypes).to.have.members(['Ingress', 'Egress']);
    return found[0]!.spec;
  };
  const apiPolicy = policyOf(apiLabels);
  const workerPolicy = policyOf(workerLabels);
  const ingressPorts = (policy: Doc) => policy.ingress.flatMap((r: Doc) => r.ports.map((p: Doc) => p.port));
  expect(ingressPorts(apiPolicy)).to.have.members([3000, 9464]);
  expect(ingressPorts(workerPolicy)).to.deep.equal([9464]);
  for (const policy of [apiPolicy, workerPolicy]) {
    for (const rule of policy.ingress)
      if (rule.ports.some((p: Doc) => p.port === 9464))
        expect(rule.from?.[0]?.namespaceSelector?.matchLabels, 'metrics only from monitoring').to.deep.equal({
          'kubernetes.io/metadata.name': 'monitoring',
        });
    const egressPorts = policy.egress.flatMap((r: Doc) => r.ports.map((p: Doc) => p.port));
    expect(egressPorts).to.have.members([53, 53, 5432, 6379, 26379]);
  }

  // KEDA: the worker Deployment, never below one (the reconciler runs in the workers), never past the global limit.
  const scaled = docs.filter((d) => d.kind === 'ScaledObject');
  expect(scaled, where).to.have.length(expect_.scaledObject ? 1 : 0);
  if (expect_.scaledObject) {
    const spec = scaled[0]!.spec;
    expect(spec.scaleTargetRef).to.include({ kind: 'Deployment', name: worker.metadata.name });
    expect(spec.minReplicaCount).to.be.at.least(1);
    const settings = Object.assign({}, ...configMaps.map((m) => m.data)) as Record<string, string>;
    const perWorker = Number(settings.WORKER_CONCURRENCY);
    expect(spec.maxReplicaCount).to.be.at.most(Math.ceil(Number(settings.GLOBAL_CONCURRENCY) / perWorker));
    const [trigger] = spec.triggers;
    expect(trigger.type).to.equal('postgresql');
    expect(Number(trigger.metadata.targetQueryValue)).to.equal(perWorker);
    // KEDA reads it from the worker's own environment, which has it from its Secret.
    expect(trigger.metadata.connectionFromEnv).to.equal('ADMIN_DATABASE_URL');
    if (expect_.secretTemplates) expect(settingsOf(workerPod, docs)).to.include('ADMIN_DATABASE_URL');
  }
}
