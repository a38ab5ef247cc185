import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createAdminDataSource, prepareAdminDatabase } from '../../shared/database/data-source';
import { silentLogger } from '../../shared/logger';
import { dropDatabases, withServer } from '../support/ods-server';
import { urlFor } from '../support/settings';

/**
 * The listing indexes of ListingIndexes1764250000000 (docs/benchmarks.md, "Listing at scale"):
 * the trigram index behind the `instanceName` search where the server lets the admin login
 * create pg_trgm, and a migration that still completes where it does not.
 */
const run = randomBytes(4).toString('hex');
/** Owns its admin database: may create pg_trgm (trusted from PostgreSQL 13). */
const OWNER = `odsim_t_lowner_${run}`;
/** May use its admin database's public schema, not create extensions in it. */
const PLAIN = `odsim_t_lplain_${run}`;

/** Migrates `database` as `role` and returns the instances table's index names. */
async function migrateAs(
  role: string,
  database: string,
): Promise<{ indexes: string[]; searchPlan: string; protectedPlan: string }> {
  const url = new URL(urlFor(database));
  url.username = role;
  const settings = { url: url.toString(), connectTimeoutMs: 3000, poolSize: 2 };
  const dataSource = createAdminDataSource(settings);
  try {
    await prepareAdminDatabase(dataSource, settings, silentLogger());
    const indexes = (
      await dataSource.query<{ name: string }[]>(
        `SELECT indexname AS name FROM pg_indexes WHERE tablename = 'instances' ORDER BY 1`,
      )
    ).map((r) => r.name);
    /** A statement's plan as on a large table (no sequential scan while an index can answer). */
    const planOf = (sql: string, params: unknown[]) =>
      dataSource.transaction(async (m) => {
        await m.query('SET LOCAL enable_seqscan = off');
        const plan = await m.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql}`, params);
        return plan.map((r) => r['QUERY PLAN']).join('\n');
      });
    return {
      indexes,
      // The search's condition as the service sends it (a parameter, ESCAPE).
      searchPlan: await planOf(`SELECT i.id FROM instances i WHERE i.instance_name_key LIKE $1 ESCAPE '\\'`, [
        '%pine valley%',
      ]),
      // A page of protected=true as the service sends it (the flag as a literal, which the partial index needs).
      protectedPlan: await planOf(
        `SELECT i.id FROM instances i WHERE i.tenant = $1 AND i.status NOT IN ('Deleted', 'Released') AND i."protected" = true
         ORDER BY i.created_at DESC, i.id DESC LIMIT 26`,
        [''],
      ),
    };
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}

describe('listing indexes of the admin database (PostgreSQL)', function () {
  this.timeout(60_000);

  before(async () => {
    await withServer(async (c) => {
      await c.query(`CREATE ROLE ${OWNER} LOGIN`);
      await c.query(`CREATE DATABASE ${OWNER} OWNER ${OWNER}`);
      await c.query(`CREATE ROLE ${PLAIN} LOGIN`);
      await c.query(`CREATE DATABASE ${PLAIN}`);
    });
    await withServer(async (c) => {
      await c.query(`GRANT ALL ON SCHEMA public TO ${PLAIN}`);
      await c.query(`REVOKE CREATE ON DATABASE ${PLAIN} FROM PUBLIC`);
    }, urlFor(PLAIN));
  });

  after(async () => {
    await dropDatabases([OWNER, PLAIN]);
    await withServer(async (c) => {
      for (const role of [OWNER, PLAIN]) await c.query(`DROP ROLE IF EXISTS ${role}`);
    });
  });

  it("searches names with a trigram index where the admin login may create pg_trgm (the database's owner)", async () => {
    const { indexes, searchPlan } = await migrateAs(OWNER, OWNER);
    expect(indexes).to.include.members(['ix_instances_tenant_created', 'ix_instances_tenant_status']);
    expect(indexes).to.include('ix_instances_name_search');
    expect(indexes).not.to.include('ix_instances_created_at');
    expect(searchPlan).to.match(/ix_instances_name_search/);
  });

  it('finds protected instances in a partial index of them alone, in list order (ProtectedListing)', async () => {
    const { indexes, protectedPlan } = await migrateAs(OWNER, OWNER);
    expect(indexes).to.include('ix_instances_protected');
    expect(protectedPlan).to.match(/Index (Only )?Scan Backward using ix_instances_protected/);
    expect(protectedPlan).not.to.match(/Sort/);
  });

  it('still migrates where the server refuses the extension, leaving the search without its index', async () => {
    const { indexes } = await migrateAs(PLAIN, PLAIN);
    expect(indexes).to.include.members(['ix_instances_tenant_created', 'ix_instances_tenant_status']);
    expect(indexes).not.to.include('ix_instances_name_search');
  });
});
