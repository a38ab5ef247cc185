/**
 * Text that decides identity (name keys, client ids, tenants) compares exactly, as PostgreSQL
 * compares text; a database's default collation on SQL Server is usually case-insensitive.
 * (SQL Server still ignores trailing spaces in comparisons; the keys stored here are trimmed.)
 */
export const EXACT = 'COLLATE Latin1_General_100_BIN2';
