import type { DataSource } from 'typeorm';

/**
 * The id of this deployment, made once by the admin database's migrations. One admin
 * database is one deployment: API replicas and workers sharing it share this id.
 */
export async function readDeploymentId(dataSource: DataSource): Promise<string> {
  const rows: { id: string }[] = await dataSource.query('SELECT id FROM deployment');
  const [row] = rows;
  if (!row || rows.length !== 1) {
    throw new Error(`the admin database holds ${rows.length} deployment rows; expected exactly one`);
  }
  // SQL Server returns a uniqueidentifier in upper case; the id is used (queue names, tokens) as written.
  return String(row.id).toLowerCase();
}
