import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger, redactSecrets } from '../../shared/logger';

/** A logger writing into memory, and the JSON events it has written so far. */
function memoryLogger(level = 'debug') {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger('test-service', level, stream);
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((l) => l.length > 0);
  const events = () => lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, text, lines, events };
}

describe('logging', () => {
  it('writes one JSON line per event with level, message, service and timestamp', () => {
    const { log, lines, events } = memoryLogger();
    log.info('instance created', { event: 'instance.created', instanceId: 'i-1' });
    log.warn('job not enqueued', { event: 'job.enqueue_failed', jobId: 'j-1' });
    log.error('job failed', { event: 'job.failed', jobId: 'j-2' });
    expect(lines()).to.have.lengthOf(3);
    const [first, second, third] = events();
    expect(first).to.include({
      level: 'info',
      message: 'instance created',
      event: 'instance.created',
      instanceId: 'i-1',
      service: 'test-service',
    });
    expect(second).to.include({ level: 'warn', event: 'job.enqueue_failed', jobId: 'j-1' });
    expect(third).to.include({ level: 'error', event: 'job.failed', jobId: 'j-2' });
    expect(Number.isNaN(Date.parse(String(first!.timestamp)))).to.equal(false);
  });

  it('keeps a multi-line message on one line', () => {
    const { log, lines, events } = memoryLogger();
    log.error('first line\nsecond line');
    expect(lines()).to.have.lengthOf(1);
    expect(events()[0]!.message).to.equal('first line\nsecond line');
  });

  it('writes nothing below its level', () => {
    const { log, lines } = memoryLogger('warn');
    log.info('quiet');
    log.debug('quieter');
    log.warn('heard');
    expect(lines()).to.have.lengthOf(1);
  });

  describe('redaction of secret keys', () => {
    const keys = [
      'secret',
      'password',
      'authorization',
      'token',
      'client_secret',
      'Authorization',
      'access_token',
      'TOKEN_SIGNING_KEY',
      'passwd',
      'cookie',
    ];

    for (const key of keys) {
      it(`redacts a top-level "${key}"`, () => {
        const { log, text, events } = memoryLogger();
        log.info('event', { [key]: 'TopSecretValue123' });
        expect(text()).not.to.include('TopSecretValue123');
        expect(events()[0]?.[key]).to.equal('[redacted]');
      });
    }

    it('redacts secret keys nested in objects and arrays', () => {
      const { log, text, events } = memoryLogger();
      log.info('token issued', {
        event: 'auth.token_issued',
        request: {
          headers: { authorization: 'Bearer AAA111', accept: 'application/json' },
          body: { client_id: 'odsim_1', client_secret: 'BBB222' },
        },
        attempts: [{ password: 'CCC333' }, { token: 'DDD444', note: 'fine' }],
      });
      for (const leaked of ['AAA111', 'BBB222', 'CCC333', 'DDD444']) expect(text()).not.to.include(leaked);
      const e = events()[0] as any;
      expect(e.request.headers).to.deep.equal({ authorization: '[redacted]', accept: 'application/json' });
      expect(e.request.body).to.deep.equal({ client_id: 'odsim_1', client_secret: '[redacted]' });
      expect(e.attempts).to.deep.equal([{ password: '[redacted]' }, { token: '[redacted]', note: 'fine' }]);
    });

    it('redacts a secret key however deeply it is nested', () => {
      const { log, text } = memoryLogger();
      log.info('deep', { a: { b: { c: { d: { e: { f: { g: { password: 'DeepSecret999' } } } } } } } });
      expect(text()).not.to.include('DeepSecret999');
    });

    it('leaves ordinary fields as they were', () => {
      const { log, events } = memoryLogger();
      log.info('renamed', { instanceId: 'i-9', databaseName: 'EdFi_Ods_2025', count: 3, ok: true, nothing: null });
      expect(events()[0]).to.include({
        instanceId: 'i-9',
        databaseName: 'EdFi_Ods_2025',
        count: 3,
        ok: true,
        nothing: null,
      });
    });
  });

  describe('credentials in URLs', () => {
    it('masks postgres:// and redis:// passwords inside messages and fields', () => {
      const { log, text, events } = memoryLogger();
      log.error('connect failed: postgres://admin:PgPass123@db.example:5432/ods_instance_manager', {
        error: 'ECONNREFUSED redis://:RedisPass456@cache.example:6379',
        detail: { hint: 'tried postgresql://svc:PgPass789@replica/ods' },
      });
      for (const leaked of ['PgPass123', 'RedisPass456', 'PgPass789']) expect(text()).not.to.include(leaked);
      const e = events()[0] as any;
      expect(e.message).to.include('postgres://admin:***@db.example:5432/ods_instance_manager');
      expect(e.error).to.include('redis://:***@cache.example:6379');
      expect(e.detail.hint).to.include('postgresql://svc:***@replica/ods');
    });

    it('masks credentials in a logged Error and keeps its name', () => {
      const { log, text, events } = memoryLogger();
      log.error('driver error', {
        error: new Error('password authentication failed for postgres://ods:ErrPass1@h/db'),
      });
      expect(text()).not.to.include('ErrPass1');
      expect((events()[0] as any).error).to.deep.include({ name: 'Error' });
    });
  });

  it('redacts the EdFi_Admin encryption key and connection strings, whatever their field is called', () => {
    const { log, text } = memoryLogger();
    log.info('settings', {
      event: 'x',
      encryptionKey: 'KEYVALUE1',
      EDFI_ADMIN_ENCRYPTION_KEY: 'KEYVALUE2',
      odsConnectionString: 'host=h;password=p;database={databaseName}',
      connection_string: 'CSVALUE3',
    });
    for (const secret of ['KEYVALUE1', 'KEYVALUE2', 'host=h', 'CSVALUE3']) expect(text()).not.to.include(secret);
  });

  describe('redactSecrets', () => {
    it('masks the password of each URL in a text', () => {
      const text = 'primary postgres://u:p1@a/db, cache redis://:p2@b:6379 and tls rediss://user:p3@c:6380/0';
      expect(redactSecrets(text)).to.equal(
        'primary postgres://u:***@a/db, cache redis://:***@b:6379 and tls rediss://user:***@c:6380/0',
      );
    });

    it('masks the whole of a password that contains an @, as a URL parser reads it', () => {
      // WHATWG URL parsing (and so node-postgres) splits user info at the last @ before the host.
      const url = 'postgres://ods:p@ssw0rd@db.example:5432/admin';
      expect(new URL(url).password).to.equal('p%40ssw0rd');
      const shown = redactSecrets(`connect failed: ${url}`);
      expect(shown).not.to.include('ssw0rd');
      expect(shown).to.include('@db.example:5432/admin');
    });

    it('leaves a URL without a password alone', () => {
      for (const text of [
        'postgres://postgres@127.0.0.1:5432/postgres',
        'redis://127.0.0.1:6379',
        'see https://example.org/a:b@c',
      ]) {
        expect(redactSecrets(text)).to.equal(text);
      }
    });

    it("masks the password of a key=value connection string (the ODS/API's, for EdFi_Admin)", () => {
      const text = 'bad value host=db;port=5432;username=ods_app;Password=s3cr3t;database=EdFi_Ods_2025 and Pwd = x1;';
      const shown = redactSecrets(text);
      expect(shown).not.to.include('s3cr3t');
      expect(shown).not.to.include('x1');
      expect(shown).to.include('username=ods_app;Password=***;database=EdFi_Ods_2025');
    });

    it('leaves text without URLs alone', () => {
      expect(redactSecrets('database EdFi_Ods created in 3 s')).to.equal('database EdFi_Ods created in 3 s');
    });
  });
});
