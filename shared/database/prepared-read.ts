import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { DataSource, EntityTarget, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { DriverUtils } from 'typeorm/driver/DriverUtils';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

interface Prepared<T, P> {
  sql: string;
  /** Sends the SQL with its values, returns the rows. */
  run: (values: unknown[]) => Promise<Record<string, unknown>[]>;
  /** For each positional parameter of `sql`, the name of the value it takes. */
  order: P[];
  hydrate: (row: Record<string, unknown>) => T;
}

/**
 * A read of one entity whose SQL is made once, by TypeORM's query builder, on first use; each
 * call then only sends that SQL with its parameters and maps the row back through the
 * entity's metadata (column names, value transformers). On the API's polling paths the
 * builder's per-call work (building and rewriting the SQL, then its generic result
 * transformation) cost about 400 µs of CPU per query, more than the round trip itself
 * (docs/benchmarks.md, "Status polling and create acceptance"). On PostgreSQL the statement
 * is also a named prepared statement, parsed once per pooled connection rather than per call.
 *
 * `build` gets a query builder of the entity under `alias`; it names its parameters as
 * `:name` placeholders, one of `names` each (values are given per call). It must select the
 * entity's own columns only (joins without select are fine) and limit with `.limit()`.
 */
export class PreparedRead<T extends ObjectLiteral, P extends string> {
  private prepared?: Prepared<T, P>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly entity: EntityTarget<T>,
    private readonly alias: string,
    private readonly names: readonly P[],
    private readonly build: (qb: SelectQueryBuilder<T>) => SelectQueryBuilder<T>,
  ) {}

  /** The first row's entity, or null. */
  async one(values: Record<P, unknown>): Promise<T | null> {
    const prepared = (this.prepared ??= this.prepare());
    const rows = await prepared.run(prepared.order.map((name) => values[name]));
    const row = rows[0];
    return row ? prepared.hydrate(row) : null;
  }

  private prepare(): Prepared<T, P> {
    // Each name gets a marker value, so the positions the driver gives them can be told apart.
    const markers = new Map(this.names.map((name, i) => [`\u0000prepared-read-${i}`, name]));
    const qb = this.build(this.dataSource.getRepository(this.entity).createQueryBuilder(this.alias));
    qb.setParameters(Object.fromEntries([...markers].map(([marker, name]) => [name, marker])));
    const [sql, parameters] = qb.getQueryAndParameters();
    const order = parameters.map((value) => {
      const name = typeof value === 'string' ? markers.get(value) : undefined;
      if (name === undefined)
        throw new Error(`PreparedRead: a parameter of ${sql} is not one of ${this.names.join(', ')}`);
      return name;
    });
    const driver = this.dataSource.driver;
    const hydrate = entityHydrator(this.dataSource, this.entity, (column) =>
      DriverUtils.buildAlias(driver, undefined, this.alias, column),
    );
    return { sql, run: this.runner(sql), order, hydrate };
  }

  private runner(sql: string): Prepared<T, P>['run'] {
    if (this.dataSource.driver.options.type === 'postgres') return preparedStatement(this.dataSource, sql);
    return (values) => this.dataSource.query<Record<string, unknown>[]>(sql, values);
  }
}

/**
 * Sends `sql` as a named prepared statement on PostgreSQL, through pg's pool under TypeORM's (the
 * same connections, settings and timeouts): parsed once per pooled connection. Outside a
 * transaction, so a statement that writes commits on its own.
 */
export function preparedStatement(
  dataSource: DataSource,
  sql: string,
): (values: unknown[]) => Promise<Record<string, unknown>[]> {
  const pool = (dataSource.driver as PostgresDriver).master as Pool;
  const name = `odsim_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
  return async (values) => (await pool.query<Record<string, unknown>>({ name, text: sql, values })).rows;
}

/**
 * Makes an entity of a row as TypeORM's own find would (value transformers, the driver's
 * conversions), reading each column under `keyOf(its database name)`.
 */
export function entityHydrator<T extends ObjectLiteral>(
  dataSource: DataSource,
  entity: EntityTarget<T>,
  keyOf: (columnName: string) => string = (name) => name,
): (row: Record<string, unknown>) => T {
  const driver = dataSource.driver;
  const metadata = dataSource.getMetadata(entity);
  const columns = metadata.columns.map((column) => ({ column, key: keyOf(column.databaseName) }));
  return (row) => {
    const target = metadata.create() as T;
    for (const { column, key } of columns) column.setEntityValue(target, driver.prepareHydratedValue(row[key], column));
    return target;
  };
}
