import { Client } from 'pg';
import { parseOwnershipMarker } from '../../worker/engines/engine';
import { POSTGRES_URL, urlFor } from './settings';

/** Direct looks at the ODS server, to check what the worker really did. */
export async function withServer<T>(work: (c: Client) => Promise<T>, url = POSTGRES_URL): Promise<T> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function databaseExists(name: string): Promise<boolean> {
  return withServer(
    async (c) => ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0,
  );
}

export function databasesLike(prefix: string): Promise<string[]> {
  return withServer(async (c) =>
    (
      await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE $1 ESCAPE '\\' ORDER BY datname`,
        [prefix.replace(/_/g, '\\_') + '%'],
      )
    ).rows.map((r) => r.datname),
  );
}

export function ownerOf(name: string): Promise<string | null> {
  return withServer(async (c) =>
    parseOwnershipMarker(
      (
        await c.query<{ m: string | null }>(
          `SELECT shobj_description(oid, 'pg_database') AS m FROM pg_database WHERE datname = $1`,
          [name],
        )
      ).rows[0]?.m,
    ),
  );
}

/** Tables and views in the four Ed-Fi schemas, and all relations there (with indexes and sequences). */
export function shapeOf(database: string): Promise<{ tablesAndViews: number; relations: number }> {
  return withServer(async (c) => {
    const r = await c.query<{ tv: string; rel: string }>(`
      SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'v')) AS tv, count(*) AS rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('edfi', 'auth', 'interop', 'util')`);
    const row = r.rows[0];
    if (!row) throw new Error('the count returned no row');
    return { tablesAndViews: Number(row.tv), relations: Number(row.rel) };
  }, urlFor(database));
}

/** How many DROP DATABASE statements a clean-up sends at once. */
const DROPS_AT_ONCE = 8;

/**
 * Drops the databases, several at once, each on its own session. A DROP DATABASE waits for a
 * checkpoint (0.5–6 s here after a copy of the Ed-Fi-scale template); drops that wait together
 * share one, so six take about a second instead of twenty.
 */
export async function dropDatabases(names: string[]): Promise<void> {
  const queue = [...new Set(names)];
  const dropper = () =>
    withServer(async (c) => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift())
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
    });
  await Promise.all(Array.from({ length: Math.min(DROPS_AT_ONCE, queue.length) }, dropper));
}

/** A plain session on `database`, as an ODS/API connection pool would hold. */
export async function connectTo(database: string): Promise<Client> {
  const client = new Client({ connectionString: urlFor(database) });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
