import type { ValueTransformer } from 'typeorm';

/**
 * Column types that mean the same on every admin dialect. The migrations, not the entities, define
 * the schema; these only decide how values travel: `String` is sent as Unicode text (nvarchar on
 * SQL Server, where 'varchar' would lose characters outside the code page), `Boolean` as a boolean or
 * a bit, `Date` as a timestamp, 'uuid' as a uuid or a uniqueidentifier.
 */
export const TEXT = String;
export const FLAG = Boolean;

/** SQL Server returns uniqueidentifiers in upper case; ids are always handled in lower case, as written. */
export const uuidColumn: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: string | null) => (typeof value === 'string' ? value.toLowerCase() : value),
};
