import type { DataSource, EntityManager } from 'typeorm';
import { type AdminLockName, dialectOf } from './dialects';

/**
 * Every lock the processes take on the admin database by number (PostgreSQL advisory lock keys;
 * SQL Server applock resources `odsim:lock:<key>`). Locks live in one database, so two
 * deployments (two admin databases) never collide on these keys.
 */
export const ADVISORY_LOCKS = {
  migrate: 7_316_001,
  bootstrapClient: 7_316_002,
  /** Concurrency slot i (0 ≤ i < GLOBAL_CONCURRENCY ≤ 64) is this key + i. */
  concurrencySlot0: 7_316_100,
} as const;

/** Runs `work` while holding a lock of the admin database (waits for it). */
export function withAdvisoryLock<T>(dataSource: DataSource, key: AdminLockName, work: () => Promise<T>): Promise<T> {
  return dialectOf(dataSource).withSessionLock(dataSource, key, work);
}

/** Holds a lock named by text until the caller's transaction ends. */
export function lockForTransaction(m: EntityManager, name: string): Promise<void> {
  return dialectOf(m.connection).lockForTransaction(m, name);
}
