import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * An INSERT of one row of an entity, every column given, whose SQL is made once from the
 * entity's metadata; each call converts the values as TypeORM's insert does (the driver's
 * preparePersistentValue: value transformers, dates) and sends them. TypeORM's `insert()`
 * rebuilt the statement on every call, about 440 µs of CPU each, more than the round trip
 * (docs/benchmarks.md, "Status polling and create acceptance"). Runs on the manager it is
 * given, so inside that manager's transaction.
 */
export class PreparedInsert<T extends ObjectLiteral> {
  private prepared?: { sql: string; values: (row: T) => unknown[] };

  constructor(
    private readonly dataSource: DataSource,
    private readonly entity: EntityTarget<T>,
  ) {}

  /** Inserts `row`; every column must have a value, but a nullable one without a default (null). */
  async insert(m: EntityManager, row: T): Promise<void> {
    const prepared = (this.prepared ??= this.prepare());
    await m.query(prepared.sql, prepared.values(row));
  }

  private prepare(): { sql: string; values: (row: T) => unknown[] } {
    const driver = this.dataSource.driver;
    const metadata = this.dataSource.getMetadata(this.entity);
    const columns = metadata.columns.filter((c) => !c.isVirtual);
    const sql =
      `INSERT INTO ${metadata.schema ? `${driver.escape(metadata.schema)}.` : ''}${driver.escape(metadata.tableName)} (${columns.map((c) => driver.escape(c.databaseName)).join(', ')}) ` +
      `VALUES (${columns.map((c, i) => driver.createParameter(c.propertyName, i)).join(', ')})`;
    return {
      sql,
      values: (row) =>
        columns.map((column): unknown => {
          const value: unknown = column.getEntityValue(row);
          // TypeORM would write DEFAULT: the same as null for a nullable column without a default.
          if (value === undefined && (!column.isNullable || column.default !== undefined))
            throw new Error(`PreparedInsert: ${metadata.name}.${column.propertyName} has no value`);
          const persisted: unknown = driver.preparePersistentValue(value ?? null, column);
          return persisted;
        }),
    };
  }
}
