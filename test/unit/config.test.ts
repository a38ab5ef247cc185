import { expect } from 'chai';
import { ApiConfig, databaseNameOf, loadApiConfig, loadWorkerConfig, redactUrl } from '../../shared/config';
import { ConfigurationError } from '../../shared/errors';
import { defaultTemplates } from '../../shared/templates';
import { DEFAULT_FILE_COPY_ABOVE_MB } from '../../worker/engines/postgres/settings';

function configurationErrorOf(load: () => unknown): ConfigurationError {
  try {
    load();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigurationError);
    return err as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

const STRONG_KEY = 'k'.repeat(32);

describe('configuration', () => {
  describe('defaults for the quickstart', () => {
    it('lets the API start with an empty environment', () => {
      const c = loadApiConfig({});
      expect(c.env).to.equal('development');
      expect(c.logLevel).to.equal('info');
      expect(c.http).to.deep.equal({ port: 3000, host: '127.0.0.1', bodyLimit: '16kb' });
      expect(c.adminDatabase).to.deep.equal({
        url: 'postgres://postgres@127.0.0.1:5432/ods_instance_manager',
        connectTimeoutMs: 3000,
        queryTimeoutMs: 15000,
        poolWaitMs: 15000,
        poolSize: 10,
      });
      expect(c.redis).to.deep.equal({
        url: 'redis://127.0.0.1:6379',
        prefix: 'odsim',
        target: { kind: 'single', url: 'redis://127.0.0.1:6379' },
      });
      expect(c.ods).to.deep.equal({
        engine: 'postgres',
        templateDatabase: 'EdFi_Ods_Minimal_Template',
        templates: { list: defaultTemplates('EdFi_Ods_Minimal_Template'), defaultName: 'minimal' },
        reservedNames: ['EdFi_Admin', 'EdFi_Security'],
        engineSettings: { createStrategy: '', templateStrategies: {}, fileCopyAboveMb: DEFAULT_FILE_COPY_ABOVE_MB },
      });
      expect(c.enqueueTimeoutMs).to.equal(2000);
      expect(c.tokens).to.deep.equal({
        signingKey: undefined,
        issuer: 'ods-instance-manager',
        audience: 'ods-instance-manager',
        ttlSeconds: 1800,
        rateLimitPerMinute: 30,
        rateLimitPerClientPerMinute: 10,
        clientCheckCacheMs: 5000,
        hashConcurrency: 1,
        hashQueue: 16,
      });
      expect(c.bootstrapClient).to.equal(true);
      expect(c.instanceDeletesEnabled).to.equal(true);
      expect(c.dataDir).to.equal('.data');
    });

    it('turns instance deletes off with INSTANCE_DELETES_ENABLED=false, and refuses a value that is not a boolean', () => {
      expect(loadApiConfig({ INSTANCE_DELETES_ENABLED: 'false' }).instanceDeletesEnabled).to.equal(false);
      expect(loadApiConfig({ INSTANCE_DELETES_ENABLED: 'off' }).instanceDeletesEnabled).to.equal(false);
      expect(loadApiConfig({ INSTANCE_DELETES_ENABLED: 'true' }).instanceDeletesEnabled).to.equal(true);
      const err = configurationErrorOf(() => loadApiConfig({ INSTANCE_DELETES_ENABLED: 'sometimes' }));
      expect(err.message).to.include('INSTANCE_DELETES_ENABLED');
    });

    it('lets the worker start with an empty environment', () => {
      const c = loadWorkerConfig({});
      expect(c.ods).to.deep.equal({
        engine: 'postgres',
        templateDatabase: 'EdFi_Ods_Minimal_Template',
        templates: { list: defaultTemplates('EdFi_Ods_Minimal_Template'), defaultName: 'minimal' },
        reservedNames: ['EdFi_Admin', 'EdFi_Security'],
        serverUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
        createStandInTemplate: false,
        engineSettings: { createStrategy: '', templateStrategies: {}, fileCopyAboveMb: DEFAULT_FILE_COPY_ABOVE_MB },
        lockTimeoutMs: 5_000,
      });
      expect(c.concurrency).to.deep.equal({ perWorker: 2, global: 2 });
      expect(c.locks).to.deep.equal({ lockDurationMs: 10_000, stalledIntervalMs: 2_000 });
      expect(c.reconcileIntervalMs).to.equal(5_000);
      expect(c.inventoryIntervalMs).to.equal(60_000);
      expect(c.transientRetry).to.deep.equal({ attempts: 8, baseDelayMs: 1_000, maxDelayMs: 30_000 });
    });

    it('takes INVENTORY_INTERVAL_MS=0 (on demand only) and refuses a negative one', () => {
      expect(loadWorkerConfig({ INVENTORY_INTERVAL_MS: '0' }).inventoryIntervalMs).to.equal(0);
      expect(() => loadWorkerConfig({ INVENTORY_INTERVAL_MS: '-1' })).to.throw(/INVENTORY_INTERVAL_MS/);
    });

    it('reads numbers from their string form', () => {
      const c = loadApiConfig({ PORT: '8080', ADMIN_DATABASE_POOL_SIZE: '4', TOKEN_TTL_SECONDS: '600' });
      expect(c.http.port).to.equal(8080);
      expect(c.adminDatabase.poolSize).to.equal(4);
      expect(c.tokens.ttlSeconds).to.equal(600);
    });

    it('splits the reserved names on commas and drops blanks', () => {
      const c = loadApiConfig({ RESERVED_DATABASE_NAMES: ' EdFi_Admin , ,Other_Db,' });
      expect(c.ods.reservedNames).to.deep.equal(['EdFi_Admin', 'Other_Db']);
    });
  });

  describe('empty settings', () => {
    it('treats an empty string as not set, so the default applies', () => {
      const c = loadApiConfig({
        PORT: '',
        LOG_LEVEL: '',
        REDIS_URL: '',
        BOOTSTRAP_CLIENT: '',
        ADMIN_DATABASE_URL: '',
        TOKEN_SIGNING_KEY: '',
      });
      expect(c.http.port).to.equal(3000);
      expect(c.logLevel).to.equal('info');
      expect(c.redis.url).to.equal('redis://127.0.0.1:6379');
      expect(c.bootstrapClient).to.equal(true);
      expect(c.adminDatabase.url).to.equal('postgres://postgres@127.0.0.1:5432/ods_instance_manager');
      expect(c.tokens.signingKey).to.equal(undefined);
    });

    it('treats an empty worker setting as not set too', () => {
      const c = loadWorkerConfig({ ODS_SERVER_URL: '', WORKER_CONCURRENCY: '', ODS_TEMPLATE_STANDIN: '' });
      expect(c.ods.serverUrl).to.equal('postgres://postgres@127.0.0.1:5432/postgres');
      expect(c.concurrency.perWorker).to.equal(2);
      expect(c.ods.createStandInTemplate).to.equal(false);
    });
  });

  describe('booleans', () => {
    for (const [text, value] of [
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['yes', true],
      ['on', true],
      ['false', false],
      ['False', false],
      ['0', false],
      ['no', false],
      ['off', false],
    ] as const) {
      it(`reads "${text}" as ${value}`, () => {
        expect(loadApiConfig({ BOOTSTRAP_CLIENT: text }).bootstrapClient).to.equal(value);
        expect(loadWorkerConfig({ ODS_TEMPLATE_STANDIN: text }).ods.createStandInTemplate).to.equal(value);
      });
    }

    it('refuses a word that is not a boolean', () => {
      const err = configurationErrorOf(() => loadApiConfig({ BOOTSTRAP_CLIENT: 'maybe' }));
      expect(err.message).to.include('BOOTSTRAP_CLIENT');
    });
  });

  describe('invalid settings', () => {
    it('lists every invalid setting in one error', () => {
      const err = configurationErrorOf(() =>
        loadApiConfig({
          NODE_ENV: 'staging',
          LOG_LEVEL: 'verbose',
          PORT: '70000',
          ADMIN_DATABASE_POOL_SIZE: '0',
          QUEUE_PREFIX: 'has spaces',
          ODS_ENGINE: 'oracle',
          TOKEN_TTL_SECONDS: '5',
          BOOTSTRAP_CLIENT: 'perhaps',
          REDIS_URL: 'http://cache',
        }),
      );
      for (const key of [
        'NODE_ENV',
        'LOG_LEVEL',
        'PORT',
        'ADMIN_DATABASE_POOL_SIZE',
        'QUEUE_PREFIX',
        'ODS_ENGINE',
        'TOKEN_TTL_SECONDS',
        'BOOTSTRAP_CLIENT',
        'REDIS_URL',
      ]) {
        expect(err.message, key).to.include(key);
      }
      expect(err.problems.length).to.be.at.least(9);
      expect(err.message).to.include('"verbose"');
    });

    it('lists every invalid worker setting in one error', () => {
      const err = configurationErrorOf(() =>
        loadWorkerConfig({
          WORKER_CONCURRENCY: '0',
          GLOBAL_CONCURRENCY: '65',
          TRANSIENT_RETRY_ATTEMPTS: 'lots',
          ODS_PG_CREATE_STRATEGY: 'copy',
          ODS_SERVER_URL: 'mysql://x',
        }),
      );
      for (const key of [
        'WORKER_CONCURRENCY',
        'GLOBAL_CONCURRENCY',
        'TRANSIENT_RETRY_ATTEMPTS',
        'ODS_PG_CREATE_STRATEGY',
        'ODS_SERVER_URL',
      ]) {
        expect(err.message, key).to.include(key);
      }
    });

    it('refuses a stalled-job check that runs as seldom as the job lock lasts, or less often', () => {
      for (const [lock, stalled] of [
        ['10000', '10000'],
        ['10000', '30000'],
      ]) {
        const err = configurationErrorOf(() =>
          loadWorkerConfig({ JOB_LOCK_DURATION_MS: lock, STALLED_INTERVAL_MS: stalled }),
        );
        expect(err.message).to.include('STALLED_INTERVAL_MS').and.include('JOB_LOCK_DURATION_MS');
      }
      expect(loadWorkerConfig({ JOB_LOCK_DURATION_MS: '10000', STALLED_INTERVAL_MS: '9999' }).locks).to.deep.equal({
        lockDurationMs: 10_000,
        stalledIntervalMs: 9_999,
      });
    });

    it('refuses an admin pool of one connection (start-up needs two)', () => {
      expect(configurationErrorOf(() => loadApiConfig({ ADMIN_DATABASE_POOL_SIZE: '1' })).message).to.include(
        'ADMIN_DATABASE_POOL_SIZE',
      );
      expect(loadApiConfig({ ADMIN_DATABASE_POOL_SIZE: '2' }).adminDatabase.poolSize).to.equal(2);
    });

    it('does not echo URLs or keys in the error, showing them as (hidden)', () => {
      const secretUrl = 'mysql://admin:S3cretPassw0rd@db.example:3306/x';
      const secretRedis = 'http://:R3disPassw0rd@cache.example';
      const shortKey = 'tooShortSigningKey';
      const err = configurationErrorOf(() =>
        loadApiConfig({
          ADMIN_DATABASE_URL: secretUrl,
          REDIS_URL: secretRedis,
          TOKEN_SIGNING_KEY: shortKey,
        }),
      );
      expect(err.message).to.include('ADMIN_DATABASE_URL=(hidden)');
      expect(err.message).to.include('REDIS_URL=(hidden)');
      expect(err.message).to.include('TOKEN_SIGNING_KEY=(hidden)');
      for (const leaked of ['S3cretPassw0rd', 'R3disPassw0rd', shortKey, 'db.example', 'cache.example']) {
        expect(err.message, leaked).not.to.include(leaked);
      }
    });

    it("does not echo the worker's ODS server URL either", () => {
      const err = configurationErrorOf(() =>
        loadWorkerConfig({ ODS_SERVER_URL: 'mssql://sa:Hunter2Hunter2@ods.example' }),
      );
      expect(err.message).to.include('ODS_SERVER_URL=(hidden)');
      expect(err.message).not.to.include('Hunter2');
    });
  });

  describe('the token signing key', () => {
    it('is required in production', () => {
      const err = configurationErrorOf(() => loadApiConfig({ NODE_ENV: 'production' }));
      expect(err.message).to.include('TOKEN_SIGNING_KEY is required when NODE_ENV=production');
    });

    it('is still required in production when set to an empty string', () => {
      const err = configurationErrorOf(() => loadApiConfig({ NODE_ENV: 'production', TOKEN_SIGNING_KEY: '' }));
      expect(err.message).to.include('TOKEN_SIGNING_KEY');
    });

    it('must be at least 32 characters', () => {
      const err = configurationErrorOf(() =>
        loadApiConfig({ NODE_ENV: 'production', TOKEN_SIGNING_KEY: 'k'.repeat(31) }),
      );
      expect(err.message).to.include('TOKEN_SIGNING_KEY must be at least 32 characters');
      expect(loadApiConfig({ NODE_ENV: 'production', TOKEN_SIGNING_KEY: STRONG_KEY }).tokens.signingKey).to.equal(
        STRONG_KEY,
      );
    });

    it('is optional outside production', () => {
      expect(loadApiConfig({ NODE_ENV: 'development' }).tokens.signingKey).to.equal(undefined);
      expect(loadApiConfig({ NODE_ENV: 'test' }).tokens.signingKey).to.equal(undefined);
    });

    it('is not required of the worker in production', () => {
      expect(loadWorkerConfig({ NODE_ENV: 'production' }).env).to.equal('production');
    });
  });

  describe('what each process sees', () => {
    it('keeps ODS_SERVER_URL out of the API configuration even when it is set', () => {
      const serverUrl = 'postgres://ods_superuser:VeryPrivileged@ods-server.internal:5432/postgres';
      const api: ApiConfig = loadApiConfig({ ODS_SERVER_URL: serverUrl, TOKEN_SIGNING_KEY: STRONG_KEY });
      const text = JSON.stringify(api);
      expect(text).not.to.include(serverUrl);
      expect(text).not.to.include('VeryPrivileged');
      expect(text).not.to.include('ods-server.internal');
    });

    it("refuses, in production, an API given the worker's secrets, naming each and showing none", () => {
      const secrets = {
        ODS_SERVER_URL: 'postgres://ods_superuser:VeryPrivileged@ods-server.internal:5432/postgres',
        EDFI_ADMIN_ENCRYPTION_KEY: 'S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2U=',
        EDFI_ADMIN_DATABASE_URL_DISTRICT_A: 'postgres://admin:AdminSecret@edfi/EdFi_Admin',
      };
      const err = configurationErrorOf(() =>
        loadApiConfig({ NODE_ENV: 'production', TOKEN_SIGNING_KEY: STRONG_KEY, ...secrets }),
      );
      expect(err.problems).to.have.length(3);
      for (const name of Object.keys(secrets))
        expect(err.message).to.include(`${name} is set: it is a worker-only secret`);
      for (const value of [...Object.values(secrets), 'VeryPrivileged', 'AdminSecret'])
        expect(err.message).not.to.include(value);
      // Empty means unset; the worker's other settings are not secrets.
      expect(() =>
        loadApiConfig({
          NODE_ENV: 'production',
          TOKEN_SIGNING_KEY: STRONG_KEY,
          ODS_SERVER_URL: '',
          WORKER_CONCURRENCY: '4',
        }),
      ).not.to.throw();
    });

    it("gives the API the engine's settings to plan with; invalid ones disable its plans, not the API", () => {
      const api = loadApiConfig({ ODS_PG_CREATE_STRATEGY: 'FILE_COPY' });
      expect(api.ods.engineSettings).to.deep.equal({
        createStrategy: 'file_copy',
        templateStrategies: {},
        fileCopyAboveMb: DEFAULT_FILE_COPY_ABOVE_MB,
      });
      expect(api.engineSettingsProblems).to.deep.equal([]);
      expect(loadWorkerConfig({ ODS_PG_CREATE_STRATEGY: 'FILE_COPY' }).ods.engineSettings).to.deep.equal(
        api.ods.engineSettings,
      );
      const lacking = loadApiConfig({ ODS_PG_CREATE_STRATEGY: 'copy' });
      expect(lacking.ods.engineSettings).to.equal(null);
      expect(lacking.engineSettingsProblems).to.have.length(1);
      expect(lacking.engineSettingsProblems[0]).to.include('ODS_PG_CREATE_STRATEGY');
      // The worker, which runs the statements, refuses them.
      expect(configurationErrorOf(() => loadWorkerConfig({ ODS_PG_CREATE_STRATEGY: 'copy' })).message).to.include(
        'ODS_PG_CREATE_STRATEGY',
      );
    });

    it('gives the ODS server URL to the worker', () => {
      const serverUrl = 'postgres://ods_superuser:pw@ods-server.internal:5432/postgres';
      expect(loadWorkerConfig({ ODS_SERVER_URL: serverUrl }).ods.serverUrl).to.equal(serverUrl);
    });

    it('ignores settings of the other process when validating', () => {
      // An invalid worker-only setting must not stop the API, and vice versa.
      expect(() => loadApiConfig({ WORKER_CONCURRENCY: '0', ODS_SERVER_URL: 'not a url' })).not.to.throw();
      expect(() => loadWorkerConfig({ PORT: 'abc', TOKEN_SIGNING_KEY: 'short' })).not.to.throw();
    });

    it('accepts postgresql:// and rediss:// URLs', () => {
      const c = loadApiConfig({ ADMIN_DATABASE_URL: 'postgresql://u@h/db', REDIS_URL: 'rediss://h:6380' });
      expect(c.adminDatabase.url).to.equal('postgresql://u@h/db');
      expect(c.redis.url).to.equal('rediss://h:6380');
    });
  });

  describe('databaseNameOf', () => {
    it('reads the database from the URL path', () => {
      expect(databaseNameOf('postgres://u:p@h:5432/ods_instance_manager')).to.equal('ods_instance_manager');
    });

    it('decodes a percent-encoded name', () => {
      expect(databaseNameOf('postgres://h/My%20Db')).to.equal('My Db');
    });

    it('ignores the query string', () => {
      expect(databaseNameOf('postgres://h/admin_db?sslmode=require')).to.equal('admin_db');
    });

    it('falls back to postgres when the URL names no database', () => {
      expect(databaseNameOf('postgres://h:5432')).to.equal('postgres');
      expect(databaseNameOf('postgres://h:5432/')).to.equal('postgres');
    });
  });

  describe('redactUrl', () => {
    it('replaces the password and keeps the rest', () => {
      const shown = redactUrl('postgres://admin:S3cret@db.example:5432/admin_db');
      expect(shown).not.to.include('S3cret');
      expect(shown).to.include('admin:***@db.example:5432/admin_db');
    });

    it('masks a redis password given without a user', () => {
      const shown = redactUrl('redis://:R3dis@cache:6379');
      expect(shown).not.to.include('R3dis');
      expect(shown).to.include('***@cache:6379');
    });

    it('leaves a URL without a password as it was', () => {
      expect(redactUrl('redis://127.0.0.1:6379')).to.equal('redis://127.0.0.1:6379');
    });

    it('does not echo an unparseable URL', () => {
      expect(redactUrl('not a url with s3cret')).to.equal('(unparseable url)');
    });
  });
});

describe('TOKEN_HASH_CONCURRENCY', () => {
  it("must stay below libuv's thread pool size, so hashing never takes every pool thread", () => {
    expect(loadApiConfig({ TOKEN_HASH_CONCURRENCY: '3' }).tokens.hashConcurrency).to.equal(3);
    expect(() => loadApiConfig({ TOKEN_HASH_CONCURRENCY: '4' })).to.throw(
      /TOKEN_HASH_CONCURRENCY=4 must be below libuv's thread pool size \(UV_THREADPOOL_SIZE, 4\)/,
    );
    expect(loadApiConfig({ TOKEN_HASH_CONCURRENCY: '4', UV_THREADPOOL_SIZE: '8' }).tokens.hashConcurrency).to.equal(4);
  });
});

describe('modes and tenants', () => {
  it('has no context keys, no pattern and no tenants by default: databaseName is required, as before', () => {
    const c = loadApiConfig({});
    expect(c.contexts).to.deep.equal({ keys: [], databaseNamePattern: null });
    expect(c.tenants).to.deep.equal([]);
  });

  it('derives the default pattern from the keys, in their order (year-specific, district-and-year)', () => {
    expect(loadApiConfig({ ODS_CONTEXT_KEYS: 'schoolYearFromRoute' }).contexts).to.deep.equal({
      keys: ['schoolYearFromRoute'],
      databaseNamePattern: 'EdFi_Ods_{schoolYearFromRoute}',
    });
    expect(loadApiConfig({ ODS_CONTEXT_KEYS: ' districtIdFromRoute , schoolYearFromRoute ' }).contexts).to.deep.equal({
      keys: ['districtIdFromRoute', 'schoolYearFromRoute'],
      databaseNamePattern: 'EdFi_Ods_{districtIdFromRoute}_{schoolYearFromRoute}',
    });
  });

  it('takes a pattern of its own', () => {
    const c = loadApiConfig({
      ODS_CONTEXT_KEYS: 'districtIdFromRoute,schoolYearFromRoute',
      ODS_DATABASE_NAME_PATTERN: 'Ods_{schoolYearFromRoute}_d{districtIdFromRoute}',
    });
    expect(c.contexts.databaseNamePattern).to.equal('Ods_{schoolYearFromRoute}_d{districtIdFromRoute}');
  });

  it('refuses at start-up a pattern with a placeholder that is not a context key', () => {
    const err = configurationErrorOf(() =>
      loadApiConfig({
        ODS_CONTEXT_KEYS: 'schoolYearFromRoute',
        ODS_DATABASE_NAME_PATTERN: 'EdFi_Ods_{districtIdFromRoute}',
      }),
    );
    expect(err.message).to.match(/\{districtIdFromRoute\}, not among ODS_CONTEXT_KEYS/);
    expect(() => loadApiConfig({ ODS_DATABASE_NAME_PATTERN: 'EdFi_Ods_{schoolYearFromRoute}' })).to.throw(
      /not among ODS_CONTEXT_KEYS \(unset\)/,
    );
  });

  it('refuses at start-up a pattern that can produce an over-long or invalid name for the engine', () => {
    expect(() =>
      loadApiConfig({
        ODS_CONTEXT_KEYS: 'districtIdFromRoute,schoolYearFromRoute',
        ODS_DATABASE_NAME_PATTERN: `EdFi_Ods_${'x'.repeat(40)}_{districtIdFromRoute}_{schoolYearFromRoute}`,
      }),
    ).to.throw(/at most 63 bytes on PostgreSQL/);
    expect(() =>
      loadApiConfig({ ODS_CONTEXT_KEYS: 'schoolYearFromRoute', ODS_DATABASE_NAME_PATTERN: '{schoolYearFromRoute}' }),
    ).to.throw(/must start with a letter/);
    // The default pattern for a free-form key can hold '-' and 50 characters.
    expect(() => loadApiConfig({ ODS_CONTEXT_KEYS: 'campusFromRoute' })).to.throw(
      /ODS_DATABASE_NAME_PATTERN can produce/,
    );
  });

  it('refuses bad or repeated context keys', () => {
    expect(() => loadApiConfig({ ODS_CONTEXT_KEYS: 'school year' })).to.throw(
      /ODS_CONTEXT_KEYS: school year not valid/,
    );
    expect(() => loadApiConfig({ ODS_CONTEXT_KEYS: 'schoolYearFromRoute,SchoolYearFromRoute' })).to.throw(/twice/);
    expect(() => loadApiConfig({ ODS_CONTEXT_KEYS: 'a1,a2,a3,a4,a5,a6' })).to.throw(/more than 5/);
  });

  it('reads TENANTS with the shared parser, for the API and the worker', () => {
    expect(loadApiConfig({ TENANTS: 'district-a, district-b' }).tenants).to.deep.equal(['district-a', 'district-b']);
    expect(loadWorkerConfig({ TENANTS: 'district-a' }).tenants).to.deep.equal(['district-a']);
    expect(() => loadApiConfig({ TENANTS: "a,B'; DROP TABLE instances;--" })).to.throw(/TENANTS: .* not valid/);
    expect(() => loadApiConfig({ TENANTS: 'a,a' })).to.throw(/twice/);
  });
});

describe('BULK_CREATE_MAX', () => {
  it('caps a bulk create at 100 instances unless set, from 1 to 1000', () => {
    expect(loadApiConfig({}).bulkCreateMax).to.equal(100);
    expect(loadApiConfig({ BULK_CREATE_MAX: '20' }).bulkCreateMax).to.equal(20);
    for (const bad of ['0', '1001', 'many']) {
      expect(configurationErrorOf(() => loadApiConfig({ BULK_CREATE_MAX: bad })).message).to.include('BULK_CREATE_MAX');
    }
    // The worker never reads it.
    expect(() => loadWorkerConfig({ BULK_CREATE_MAX: '0' })).not.to.throw();
  });
});
