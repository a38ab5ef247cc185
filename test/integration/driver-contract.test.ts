import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { sameServerUrl } from '../../shared/config';
import { PermanentJobError } from '../../shared/errors';
import { silentLogger } from '../../shared/logger';
import { retryTransient } from '../../shared/retry';
import { ownershipMarker } from '../../worker/engines/engine';
import { PostgresDriver, PostgresDriverOptions } from '../../worker/engines/postgres/driver';
import { ensureStandInTemplate } from '../../worker/templates/stand-in';
import { dropDatabases } from '../support/ods-server';
import { MACHINE_MAJOR, PACKAGED_MAJORS, startPostgres, TestServer, unavailableBecause } from '../support/pg-versions';
import { StatementLog } from '../support/statement-log';

/**
 * The PostgreSQL driver's contract, the same assertions on every version Ed-Fi runs on that CI
 * can start: 11 (no DROP … WITH (FORCE), no waiting pg_terminate_backend), 13 (no CREATE
 * DATABASE … STRATEGY), 15 (the machine's) and 18. Ed-Fi's own schemas need 12+, so the template
 * is a small stand-in of the same shape (schemas, identity keys, indexes, views, rows) that 11 accepts.
 */
const MAJORS = [
  ...PACKAGED_MAJORS.filter((m) => m < MACHINE_MAJOR),
  MACHINE_MAJOR,
  ...PACKAGED_MAJORS.filter((m) => m > MACHINE_MAJOR),
];
const TEMPLATE = 'odsim_test_template_contract_v1';
const TEMPLATE_SHAPE = { tables: 12, views: 2, rowsPerTable: 3 };
const STRATEGIES = ['', 'wal_log', 'file_copy'] as const;
/** The steps each operation reports between its statements (the worker's fault injection uses the same names). */
const CREATE_STEPS = ['create.cloning', 'create.cloned', 'create.marked', 'create.renamed'];
const RENAME_STEPS = ['rename.closed', 'rename.renamed'];
const DROP_STEPS = ['drop.before'];
/** A copy's create (docs/copy.md): the source is shut and reopened between create.cloning and create.cloned. */
const COPY_STEPS = [
  'create.cloning',
  'copy.source-closed',
  'copy.cloned',
  'create.cloned',
  'create.marked',
  'create.renamed',
];

for (const major of MAJORS) {
  const why = unavailableBecause(major);
  const title = `PostgreSQL driver contract on PostgreSQL ${major}${major === MACHINE_MAJOR ? '' : ' @slow'}`;
  if (why) describe.skip(`${title} (skipped: ${why})`, () => it('runs when the binaries are installed'));
  else
    describe(title, function () {
      this.timeout(60_000);
      let server: TestServer;
      const drivers: PostgresDriver[] = [];
      const sessions: Client[] = [];
      const made: string[] = [];
      const log = new StatementLog();
      let retries = 0;

      before(async function () {
        this.timeout(120_000);
        server = await startPostgres(major);
        expect(server.version).to.match(new RegExp(`^${major}\\.`));
        await ensureStandInTemplate(server.url, TEMPLATE, TEMPLATE_SHAPE, silentLogger());
      });
      after(async () => {
        if (retries)
          console.log(`      (PostgreSQL ${major}: ${retries} transient error(s) retried, as the worker would)`);
        await server?.stop();
      });
      afterEach(async () => {
        log.stop();
        log.clear();
        await Promise.all(sessions.splice(0).map((s) => s.end().catch(() => undefined)));
        await Promise.all(drivers.splice(0).map((d) => d.close()));
        // A packaged server goes away whole; the machine's keeps only what the tests did not make.
        const names = made.splice(0);
        if (major === MACHINE_MAJOR) await dropDatabases(names);
      });

      function driver(options: Partial<PostgresDriverOptions> = {}): PostgresDriver {
        const d = new PostgresDriver({ serverUrl: server.url, log: silentLogger(), ...options });
        drivers.push(d);
        return d;
      }

      /** Unique names for one test: the database, its new name, the staging clone. */
      function names() {
        const id = randomUUID().replace(/-/g, '').slice(0, 10);
        const n = { db: `t_contract_${id}`, renamed: `t_contract_${id}_new`, staging: `t_contract_${id}_stg` };
        made.push(n.db, n.renamed, n.staging);
        return n;
      }

      /** The worker retries what the driver calls transient; so does the contract (a gap before 14 closes that way). */
      function retrying<T>(d: PostgresDriver, op: () => Promise<T>): Promise<T> {
        return retryTransient(op, {
          attempts: 10,
          baseDelayMs: 100,
          maxDelayMs: 1_000,
          isTransient: (err) => d.isTransient(err),
          onRetry: () => retries++,
        });
      }

      async function connect(database: string): Promise<Client> {
        const client = new Client({ connectionString: sameServerUrl(server.url, database) });
        client.on('error', () => undefined);
        await client.connect();
        sessions.push(client);
        return client;
      }

      async function sql<T extends object>(database: string, text: string, values: unknown[] = []): Promise<T[]> {
        const client = new Client({ connectionString: sameServerUrl(server.url, database) });
        client.on('error', () => undefined);
        await client.connect();
        try {
          return (await client.query<T>(text, values)).rows;
        } finally {
          await client.end();
        }
      }

      async function makeForeignDatabase(name: string, marker?: string): Promise<void> {
        await sql('postgres', `CREATE DATABASE "${name}"`);
        if (marker) await sql('postgres', `COMMENT ON DATABASE "${name}" IS '${marker}'`);
        await sql(name, `CREATE TABLE precious (v text); INSERT INTO precious VALUES ('keep me')`);
      }

      async function preciousRow(name: string): Promise<string | undefined> {
        return (await sql<{ v: string }>(name, 'SELECT v FROM precious'))[0]?.v;
      }

      async function templateRows(name: string): Promise<{ tables: number; rows: number }> {
        const [shape] = await sql<{ tables: string }>(
          name,
          `SELECT count(*) AS tables FROM information_schema.tables
         WHERE table_schema IN ('edfi', 'auth', 'interop', 'util') AND table_type = 'BASE TABLE'`,
        );
        const [rows] = await sql<{ rows: string }>(name, 'SELECT count(*) AS rows FROM edfi.entity_9');
        return { tables: Number(shape!.tables), rows: Number(rows!.rows) };
      }

      function createRequest(instanceId: string, n: ReturnType<typeof names>) {
        return { instanceId, databaseName: n.db, templateDatabase: TEMPLATE, stagingName: n.staging };
      }

      function dropRequest(instanceId: string, databaseName: string, stagingNames: string[] = []) {
        return { instanceId, databaseName, stagingNames, ownsNothing: false };
      }

      async function rejection(promise: Promise<unknown>): Promise<Error> {
        try {
          await promise;
        } catch (err) {
          return err as Error;
        }
        throw new Error('expected the operation to fail');
      }

      describe('lifecycle', () => {
        it('creates a database from the template, with its tables and rows, marked as this instance’s', async () => {
          const d = driver();
          const n = names();
          const instanceId = randomUUID();
          expect(await retrying(d, () => d.create(createRequest(instanceId, n)))).to.deep.equal({
            outcome: 'created',
            warnings: [],
          });
          expect(await d.describe(n.db)).to.deep.equal({
            name: n.db,
            ownerInstanceId: instanceId,
            valid: true,
            acceptsConnections: true,
          });
          expect(await d.exists(n.staging)).to.equal(false);
          expect(await templateRows(n.db)).to.deep.equal({ tables: TEMPLATE_SHAPE.tables + 1, rows: 3 });
        });

        it('renames the database, keeping its contents and marker, then drops it', async () => {
          const d = driver();
          const n = names();
          const instanceId = randomUUID();
          await retrying(d, () => d.create(createRequest(instanceId, n)));
          const renamed = await retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }));
          expect(renamed.outcome).to.equal('renamed');
          expect(await d.exists(n.db)).to.equal(false);
          expect(await d.describe(n.renamed)).to.include({ ownerInstanceId: instanceId, acceptsConnections: true });
          expect(await templateRows(n.renamed)).to.deep.equal({ tables: TEMPLATE_SHAPE.tables + 1, rows: 3 });
          const dropped = await retrying(d, () => d.drop(dropRequest(instanceId, n.renamed)));
          expect(dropped).to.deep.equal({ outcome: 'dropped', warnings: [] });
          expect(await d.exists(n.renamed)).to.equal(false);
        });
      });

      describe('idempotence', () => {
        it('ends in the same state when create, rename and drop each run twice', async () => {
          const d = driver();
          const n = names();
          const instanceId = randomUUID();
          const create = () => retrying(d, () => d.create(createRequest(instanceId, n)));
          expect((await create()).outcome).to.equal('created');
          expect((await create()).outcome).to.equal('already-created');
          const rename = () => retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }));
          expect((await rename()).outcome).to.equal('renamed');
          expect((await rename()).outcome).to.equal('already-renamed');
          expect(await d.describe(n.renamed)).to.include({ ownerInstanceId: instanceId, acceptsConnections: true });
          const drop = () => retrying(d, () => d.drop(dropRequest(instanceId, n.renamed, [n.staging])));
          expect(await drop()).to.deep.equal({ outcome: 'dropped', warnings: [] });
          expect(await drop()).to.deep.equal({ outcome: 'already-absent', warnings: [] });
        });

        it('finishes a create from the unmarked staging clone an interrupted run left', async () => {
          const d = driver();
          const n = names();
          const instanceId = randomUUID();
          await sql('postgres', `CREATE DATABASE "${n.staging}" TEMPLATE "${TEMPLATE}"`);
          expect((await retrying(d, () => d.create(createRequest(instanceId, n)))).outcome).to.equal('created');
          expect(await d.exists(n.staging)).to.equal(false);
          expect(await d.describe(n.db)).to.include({ ownerInstanceId: instanceId, valid: true });
        });
      });

      describe('never clobber', () => {
        it('refuses, permanently, to create onto a database without its marker, and leaves it untouched', async () => {
          const d = driver();
          const n = names();
          await makeForeignDatabase(n.db);
          const err = await rejection(retrying(d, () => d.create(createRequest(randomUUID(), n))));
          expect(err).to.be.instanceOf(PermanentJobError);
          expect(d.isTransient(err)).to.equal(false);
          expect(err.message).to.match(/not managed by ODS Instance Manager.*left untouched/);
          expect(await preciousRow(n.db)).to.equal('keep me');
          expect(await d.describe(n.db)).to.include({ ownerInstanceId: null });
          expect(await d.exists(n.staging)).to.equal(false);
        });

        it('refuses to drop a database without its marker or with another instance’s, and leaves it untouched', async () => {
          const d = driver();
          const unmarked = names();
          const other = names();
          await makeForeignDatabase(unmarked.db);
          await makeForeignDatabase(other.db, ownershipMarker(randomUUID()));
          const instanceId = randomUUID();
          for (const name of [unmarked.db, other.db]) {
            const err = await rejection(retrying(d, () => d.drop(dropRequest(instanceId, name))));
            expect(err).to.be.instanceOf(PermanentJobError);
            expect(err.message).to.match(/refusing to drop.*left untouched/);
            // An instance whose create failed never owned a database: its drop succeeds and leaves the other alone.
            const leftAlone = await d.drop({ ...dropRequest(instanceId, name), ownsNothing: true });
            expect(leftAlone).to.deep.equal({ outcome: 'left-unmanaged', warnings: [] });
            expect(await preciousRow(name)).to.equal('keep me');
          }
        });

        it('refuses to rename onto a database it does not own; both stay as they were', async () => {
          const d = driver();
          const n = names();
          const instanceId = randomUUID();
          await retrying(d, () => d.create(createRequest(instanceId, n)));
          await makeForeignDatabase(n.renamed);
          const err = await rejection(retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed })));
          expect(err).to.be.instanceOf(PermanentJobError);
          expect(await preciousRow(n.renamed)).to.equal('keep me');
          expect(await d.describe(n.db)).to.include({ ownerInstanceId: instanceId, acceptsConnections: true });
        });
      });

      describe('connected sessions', () => {
        it('renames a database an application is connected to, ending that session', async () => {
          const d = driver();
          const n = names();
          const instanceId = randomUUID();
          await retrying(d, () => d.create(createRequest(instanceId, n)));
          const app = await connect(n.db);
          log.start();
          expect((await retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }))).outcome).to.equal(
            'renamed',
          );
          expect(await rejection(app.query('SELECT 1'))).to.be.instanceOf(Error);
          expect(await d.describe(n.renamed)).to.include({ ownerInstanceId: instanceId, acceptsConnections: true });
          // 14+ waits for each ended backend to be gone; before 14 a retry covers the gap.
          const terminations = log.matching(/pg_terminate_backend/);
          expect(terminations).to.not.be.empty;
          expect(terminations.every((s) => s.includes('pg_terminate_backend(pid, 5000)'))).to.equal(major >= 14);
        });

        it(`drops a database an application is connected to (${major >= 13 ? 'WITH (FORCE)' : 'sessions ended first, as before 13'})`, async () => {
          const d = driver();
          const n = names();
          const instanceId = randomUUID();
          await retrying(d, () => d.create(createRequest(instanceId, n)));
          const app = await connect(n.db);
          log.start();
          expect(await retrying(d, () => d.drop(dropRequest(instanceId, n.db)))).to.deep.equal({
            outcome: 'dropped',
            warnings: [],
          });
          expect(await d.exists(n.db)).to.equal(false);
          expect(await rejection(app.query('SELECT 1'))).to.be.instanceOf(Error);
          const drops = log.matching(/^DROP DATABASE/);
          expect(drops).to.not.be.empty;
          expect(drops.every((s) => s.endsWith('WITH (FORCE)'))).to.equal(major >= 13);
          expect(log.matching(/pg_terminate_backend/)).to.have.length(major >= 13 ? 0 : drops.length);
        });
      });

      describe('no false success', () => {
        it('never reports a create done when the copy refuses writes, nor on a re-run', async () => {
          const n = names();
          const instanceId = randomUUID();
          // Sessions on the copy become read-only once it is marked, as a database-level setting makes them.
          const d = driver({
            onStep: async (step) => {
              if (step === 'create.marked')
                await sql('postgres', `ALTER DATABASE "${n.staging}" SET default_transaction_read_only = on`);
            },
          });
          const err = await rejection(retrying(d, () => d.create(createRequest(instanceId, n))));
          expect(err).to.be.instanceOf(PermanentJobError);
          expect(err.message).to.match(/does not accept writes/);
          const rerun = driver();
          const again = await rejection(retrying(rerun, () => rerun.create(createRequest(instanceId, n))));
          expect(again).to.be.instanceOf(PermanentJobError);
          expect(again.message).to.match(/does not accept writes/);
        });
      });

      describe('a crash at each step', () => {
        /** Stands for the worker dying between two statements: the operation stops here, whatever it held. */
        class Crash extends Error {}
        const crashAt = (step: string) => async (reached: string) => {
          if (reached === step) throw new Crash(`crashed at ${step}`);
        };

        /** Every step each operation reports, recorded from an uninterrupted run, so a new step cannot go untested. */
        async function stepsOf(op: 'create' | 'rename' | 'drop'): Promise<string[]> {
          const seen: string[] = [];
          const d = driver({ onStep: async (step) => void seen.push(step) });
          const n = names();
          const instanceId = randomUUID();
          await retrying(d, () => d.create(createRequest(instanceId, n)));
          if (op === 'create') return seen;
          seen.length = 0;
          await retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }));
          if (op === 'rename') return seen;
          seen.length = 0;
          await retrying(d, () => d.drop(dropRequest(instanceId, n.renamed)));
          return seen;
        }

        it('reports the steps the crash tests below cover, and no others', async () => {
          expect(await stepsOf('create')).to.deep.equal(CREATE_STEPS);
          expect(await stepsOf('rename')).to.deep.equal(RENAME_STEPS);
          expect(await stepsOf('drop')).to.deep.equal(DROP_STEPS);
        });

        /** A copy of an instance made by the contract, with the note a job keeps on its row. */
        async function copyFixture() {
          const source = names();
          const sourceId = randomUUID();
          const setup = driver();
          await retrying(setup, () => setup.create(createRequest(sourceId, source)));
          const note = { at: null as Date | null, writes: [] as string[] };
          const copy = {
            sourceInstanceId: sourceId,
            disconnectSource: true,
            closedNote: {
              isSet: () => note.at !== null,
              set: async () => void (note.writes.push('set'), (note.at = new Date())),
              clear: async () => void (note.writes.push('clear'), (note.at = null)),
            },
          };
          const n = names();
          const request = { ...createRequest(randomUUID(), n), templateDatabase: source.db, copy };
          return { source, sourceId, n, note, request };
        }

        const opensToConnections = async (d: PostgresDriver, name: string) =>
          (await d.describe(name))?.acceptsConnections;

        it('reports the steps of a copy that the crash tests below cover', async () => {
          const { request } = await copyFixture();
          const seen: string[] = [];
          const d = driver({ onStep: async (step) => void seen.push(step) });
          await retrying(d, () => d.create(request));
          expect(seen).to.deep.equal(COPY_STEPS);
        });

        for (const step of COPY_STEPS.filter((s) => s.startsWith('copy.'))) {
          it(`a copy that fails at ${step} reopens its source at once, and the next run completes it`, async () => {
            const { source, n, note, request } = await copyFixture();
            const crashing = driver({ onStep: crashAt(step) });
            expect(await rejection(retrying(crashing, () => crashing.create(request)))).to.be.instanceOf(Crash);
            const d = driver();
            expect(await opensToConnections(d, source.db)).to.equal(true);
            expect(note.writes).to.deep.equal(['set', 'clear']);
            await retrying(d, () => d.create(request));
            expect((await d.describe(n.db))?.ownerInstanceId).to.equal(request.instanceId);
            expect(await opensToConnections(d, source.db)).to.equal(true);
          });
        }

        it('a worker that died with the source shut: the next run reopens it first, then copies', async () => {
          const { source, sourceId, n, note, request } = await copyFixture();
          // What a SIGKILL between the note and the reopen leaves: the note set, the source shut.
          note.at = new Date();
          await sql('postgres', `ALTER DATABASE "${source.db}" ALLOW_CONNECTIONS false`);
          const seenShut: boolean[] = [];
          const d = driver({
            onStep: async (step) => {
              if (step === 'create.cloning') seenShut.push((await opensToConnections(d, source.db)) === false);
            },
          });
          await retrying(d, () => d.create(request));
          expect(seenShut).to.deep.equal([false]); // reopened before anything else
          expect(note.at).to.equal(null);
          expect(await opensToConnections(d, source.db)).to.equal(true);
          expect((await d.describe(source.db))?.ownerInstanceId).to.equal(sourceId);
          expect(await templateRows(n.db)).to.deep.equal(await templateRows(source.db));
        });

        it("ends the source's sessions to copy it, and leaves a source an administrator shut as it was", async () => {
          const { source, n, note, request } = await copyFixture();
          const session = await connect(source.db);
          const d = driver();
          await retrying(d, () => d.create(request));
          expect(
            await session.query('SELECT 1').then(
              () => 'connected',
              () => 'ended',
            ),
          ).to.equal('ended');
          expect(await opensToConnections(d, source.db)).to.equal(true);

          const shutByHand = await copyFixture();
          await sql('postgres', `ALTER DATABASE "${shutByHand.source.db}" ALLOW_CONNECTIONS false`);
          await retrying(d, () => d.create(shutByHand.request));
          expect(await opensToConnections(d, shutByHand.source.db)).to.equal(false);
          expect(shutByHand.note.writes).to.deep.equal([]);
          expect((await d.describe(shutByHand.n.db))?.ownerInstanceId).to.equal(shutByHand.request.instanceId);
          await sql('postgres', `ALTER DATABASE "${shutByHand.source.db}" ALLOW_CONNECTIONS true`);
          expect(note.writes).to.deep.equal(['set', 'clear']);
          expect((await d.describe(n.db))?.valid).to.equal(true);
        });

        it("refuses to copy a database that does not carry the source instance's marker, shutting nothing", async () => {
          const { source, n, note, request } = await copyFixture();
          const d = driver();
          const err = await rejection(
            retrying(d, () => d.create({ ...request, copy: { ...request.copy, sourceInstanceId: randomUUID() } })),
          );
          expect(err).to.be.instanceOf(PermanentJobError);
          expect(err.message).to.match(/refusing to copy/);
          expect(note.writes).to.deep.equal([]);
          expect(await opensToConnections(d, source.db)).to.equal(true);
          expect(await d.exists(n.staging)).to.equal(false);
        });

        for (const step of CREATE_STEPS) {
          it(`finishes a create interrupted at ${step} when the job runs again, leaving no staging copy`, async () => {
            const n = names();
            const instanceId = randomUUID();
            const crashing = driver({ onStep: crashAt(step) });
            expect(
              await rejection(retrying(crashing, () => crashing.create(createRequest(instanceId, n)))),
            ).to.be.instanceOf(Crash);
            const d = driver();
            const again = await retrying(d, () => d.create(createRequest(instanceId, n)));
            expect(again.outcome).to.equal(step === 'create.renamed' ? 'already-created' : 'created');
            expect(await d.describe(n.db)).to.deep.equal({
              name: n.db,
              ownerInstanceId: instanceId,
              valid: true,
              acceptsConnections: true,
            });
            expect(await d.exists(n.staging)).to.equal(false);
            expect(await templateRows(n.db)).to.deep.equal({ tables: TEMPLATE_SHAPE.tables + 1, rows: 3 });
          });
        }

        for (const step of RENAME_STEPS) {
          it(`finishes a rename interrupted at ${step}, and the database takes connections again`, async () => {
            const n = names();
            const instanceId = randomUUID();
            const setup = driver();
            await retrying(setup, () => setup.create(createRequest(instanceId, n)));
            const crashing = driver({ onStep: crashAt(step) });
            const crash = await rejection(
              retrying(crashing, () => crashing.rename({ instanceId, from: n.db, to: n.renamed })),
            );
            expect(crash).to.be.instanceOf(Crash);
            const d = driver();
            const again = await retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }));
            expect(again.outcome).to.equal(step === 'rename.renamed' ? 'already-renamed' : 'renamed');
            expect(await d.exists(n.db)).to.equal(false);
            expect(await d.describe(n.renamed)).to.include({ ownerInstanceId: instanceId, acceptsConnections: true });
            expect(await templateRows(n.renamed)).to.deep.equal({ tables: TEMPLATE_SHAPE.tables + 1, rows: 3 });
          });
        }

        for (const step of DROP_STEPS) {
          it(`finishes a drop interrupted at ${step}, and also drops a staging copy a crashed create left`, async () => {
            const n = names();
            const instanceId = randomUUID();
            const setup = driver();
            await retrying(setup, () => setup.create(createRequest(instanceId, n)));
            await sql('postgres', `CREATE DATABASE "${n.staging}" TEMPLATE "${TEMPLATE}"`);
            const crashing = driver({ onStep: crashAt(step) });
            const request = dropRequest(instanceId, n.db, [n.staging]);
            expect(await rejection(retrying(crashing, () => crashing.drop(request)))).to.be.instanceOf(Crash);
            const d = driver();
            expect(await retrying(d, () => d.drop(request))).to.deep.equal({ outcome: 'dropped', warnings: [] });
            expect(await d.exists(n.db)).to.equal(false);
            expect(await d.exists(n.staging)).to.equal(false);
          });
        }
      });

      describe('create strategy (CREATE DATABASE … STRATEGY is 15+)', () => {
        for (const strategy of STRATEGIES) {
          const shown = strategy || 'the server’s default';
          const expected = major >= 15 && strategy ? `STRATEGY = ${strategy.toUpperCase()}` : 'no STRATEGY clause';
          it(`creates a working clone with ${shown} configured (${expected})`, async () => {
            const d = driver({ createStrategyFor: () => strategy });
            const n = names();
            const instanceId = randomUUID();
            log.start();
            expect((await retrying(d, () => d.create(createRequest(instanceId, n)))).outcome).to.equal('created');
            const creates = log.matching(/^CREATE DATABASE/);
            expect(creates).to.have.length(1);
            if (major >= 15 && strategy)
              expect(creates[0]).to.match(new RegExp(` STRATEGY = ${strategy.toUpperCase()}$`));
            else expect(creates[0]).to.not.match(/STRATEGY/);
            expect(await templateRows(n.db)).to.deep.equal({ tables: TEMPLATE_SHAPE.tables + 1, rows: 3 });
          });
        }
      });
    });
}
