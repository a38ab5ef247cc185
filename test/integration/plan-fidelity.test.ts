import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { stagingDatabaseName } from '../../shared/database-names';
import { silentLogger } from '../../shared/logger';
import { type OperationPlan, type PlanRequest, runsOn } from '../../worker/engines/module';
import { PostgresDriver } from '../../worker/engines/postgres/driver';
import type { PostgresCreateStrategy } from '../../worker/engines/postgres/settings';
import { SESSION_SETUP } from '../../worker/engines/postgres/statements';
import { planOperation } from '../../worker/engines/registry';
import { ensureStandInTemplate } from '../../worker/templates/stand-in';
import { dropDatabases } from '../support/ods-server';
import { MACHINE_MAJOR, PACKAGED_MAJORS, startPostgres, TestServer, unavailableBecause } from '../support/pg-versions';
import { StatementLog } from '../support/statement-log';

/**
 * The promise of `?dryRun=true` and `cli plan`: the plan lists exactly the statements the worker
 * sends. Each operation runs through the real driver on a real server while its statements are
 * recorded, and what was sent must equal, text for text and in order, the plan's statements for
 * that server's version (the variants whose `serverVersions` it falls in). Same ids, same names.
 */
const MAJORS = [
  ...PACKAGED_MAJORS.filter((m) => m < MACHINE_MAJOR),
  MACHINE_MAJOR,
  ...PACKAGED_MAJORS.filter((m) => m > MACHINE_MAJOR),
];
const TEMPLATE = 'odsim_test_template_plan_v1';
const TEMPLATE_SHAPE = { tables: 9, views: 1, rowsPerTable: 2 };
const STRATEGIES: PostgresCreateStrategy[] = ['', 'file_copy'];

/** The plan's statements that a server of `major` is sent, in order. */
function plannedFor(plan: OperationPlan, major: number): string[] {
  const statements = plan.statements.filter((s) => runsOn(s, major));
  // Every condition left is a version (the usual path is what is compared); anything else would be a guess.
  for (const s of statements) if (s.when) expect(s.serverVersions, `${s.purpose}: ${s.when}`).to.be.an('object');
  return statements.map((s) => s.sql);
}

for (const major of MAJORS) {
  const why = unavailableBecause(major);
  const title = `plans are the statements the driver sends, on PostgreSQL ${major}${major === MACHINE_MAJOR ? '' : ' @slow'}`;
  if (why) describe.skip(`${title} (skipped: ${why})`, () => it('runs when the binaries are installed'));
  else
    describe(title, function () {
      this.timeout(60_000);
      let server: TestServer;
      const log = new StatementLog();
      const drivers: PostgresDriver[] = [];
      const made: string[] = [];

      before(async function () {
        this.timeout(120_000);
        server = await startPostgres(major);
        await ensureStandInTemplate(server.url, TEMPLATE, TEMPLATE_SHAPE, silentLogger());
      });
      after(async () => server?.stop());
      afterEach(async () => {
        log.stop();
        log.clear();
        await Promise.all(drivers.splice(0).map((d) => d.close()));
        const names = made.splice(0);
        if (major === MACHINE_MAJOR) await dropDatabases(names);
      });

      /** A new driver, as a worker process starts with: it has not asked the server's version yet. */
      function driver(createStrategy: PostgresCreateStrategy = ''): PostgresDriver {
        const d = new PostgresDriver({
          serverUrl: server.url,
          log: silentLogger(),
          createStrategyFor: () => createStrategy,
        });
        drivers.push(d);
        return d;
      }

      function names() {
        const id = randomUUID().replace(/-/g, '').slice(0, 10);
        const n = {
          instanceId: randomUUID(),
          db: `t_plan_${id}`,
          renamed: `t_plan_${id}_new`,
          staging: stagingDatabaseName(randomUUID()),
        };
        made.push(n.db, n.renamed, n.staging);
        return n;
      }

      const createRequest = (n: ReturnType<typeof names>) => ({
        instanceId: n.instanceId,
        databaseName: n.db,
        templateDatabase: TEMPLATE,
        stagingName: n.staging,
      });

      /** Runs `operation` on a fresh driver while recording; what it sent, without the per-session setting. */
      async function sentBy(operation: (d: PostgresDriver) => Promise<unknown>, strategy?: PostgresCreateStrategy) {
        const d = driver(strategy);
        log.start();
        try {
          await operation(d);
        } finally {
          log.stop();
        }
        // Sent once per new pooled session, whatever the operation: the plan says so in a note.
        const sent = log.statements.filter((s) => s !== SESSION_SETUP);
        log.clear();
        return sent;
      }

      const plan = (request: PlanRequest, createStrategy: PostgresCreateStrategy = '') =>
        planOperation('postgres', request, { createStrategy });

      for (const strategy of STRATEGIES) {
        it(`creates with exactly the planned statements (${strategy || 'server default'} strategy)`, async () => {
          const n = names();
          const sent = await sentBy(async (d) => {
            expect((await d.create(createRequest(n))).outcome).to.equal('created');
          }, strategy);
          const planned = plan({ operation: 'create', ...createRequest(n) }, strategy);
          expect(planned.notes.join(' ')).to.include(SESSION_SETUP);
          expect(sent).to.deep.equal(plannedFor(planned, major));
          expect(sent.filter((s) => s.startsWith('CREATE DATABASE'))).to.have.length(1);
        });
      }

      it('copies an instance with exactly the planned statements: the source shut, sessions ended, cloned, reopened', async () => {
        const source = names();
        await driver().create(createRequest(source));
        const n = names();
        const noted: string[] = [];
        let set = false;
        const copy = {
          sourceInstanceId: source.instanceId,
          disconnectSource: true,
          closedNote: {
            isSet: () => set,
            set: async () => void (noted.push('set'), (set = true)),
            clear: async () => void (noted.push('clear'), (set = false)),
          },
        };
        const request = { ...createRequest(n), templateDatabase: source.db };
        const sent = await sentBy(async (d) => {
          expect((await d.create({ ...request, copy })).outcome).to.equal('created');
        });
        const planned = plan({
          operation: 'create',
          ...request,
          copy: { sourceInstanceId: source.instanceId, disconnectSource: true },
        });
        expect(sent).to.deep.equal(plannedFor(planned, major));
        expect(noted).to.deep.equal(['set', 'clear']);
      });

      it('renames with exactly the planned statements', async () => {
        const n = names();
        await driver().create(createRequest(n));
        const sent = await sentBy(async (d) => {
          expect((await d.rename({ instanceId: n.instanceId, from: n.db, to: n.renamed })).outcome).to.equal('renamed');
        });
        expect(sent).to.deep.equal(
          plannedFor(plan({ operation: 'rename', instanceId: n.instanceId, from: n.db, to: n.renamed }), major),
        );
      });

      it('adopts and releases with exactly the planned statements', async () => {
        const n = names();
        await driver().create(createRequest(n));
        await driver().release({ instanceId: n.instanceId, databaseName: n.db, ownsNothing: false });
        const adopter = { instanceId: randomUUID(), databaseName: n.db };
        const adopted = await sentBy(async (d) => {
          expect((await d.adopt(adopter)).outcome).to.equal('adopted');
        });
        expect(adopted).to.deep.equal(plannedFor(plan({ operation: 'adopt', ...adopter }), major));
        const released = await sentBy(async (d) => {
          expect((await d.release({ ...adopter, ownsNothing: false })).outcome).to.equal('released');
        });
        expect(released).to.deep.equal(plannedFor(plan({ operation: 'release', ...adopter }), major));
        expect(released.filter((s) => /DROP/.test(s))).to.deep.equal([]);
      });

      it('drops with exactly the planned statements, looking for the staging copy of each create job first', async () => {
        const n = names();
        await driver().create(createRequest(n));
        const stagingNames = [n.staging, stagingDatabaseName(randomUUID())];
        const sent = await sentBy(async (d) => {
          const dropped = await d.drop({
            instanceId: n.instanceId,
            databaseName: n.db,
            stagingNames,
            ownsNothing: false,
          });
          expect(dropped).to.deep.equal({ outcome: 'dropped', warnings: [] });
        });
        const planned = plannedFor(
          plan({ operation: 'delete', instanceId: n.instanceId, databaseName: n.db, stagingNames }),
          major,
        );
        expect(sent).to.deep.equal(planned);
        expect(sent.filter((s) => s.startsWith('DROP DATABASE'))).to.have.length(1);
      });
    });
}
