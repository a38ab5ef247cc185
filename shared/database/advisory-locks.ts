import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Every advisory lock the processes take on the admin database, and how. Advisory locks live
 * in one database, so two deployments (two admin databases) never collide on these keys.
 */
export const ADVISORY_LOCKS = {
  migrate: 7_316_001,
  bootstrapClient: 7_316_002,
  /** Concurrency slot i (0 ≤ i < GLOBAL_CONCURRENCY ≤ 64) is this key + i. */
  concurrencySlot0: 7_316_100,
} as const;

/** Keys made from text (an instance id, a client id) are hashed to 64 bits by the server. */
const TEXT_KEY = 'hashtextextended($1, 0)';

/** Runs `work` while holding a session-level advisory lock on one pooled connection. */
export async function withAdvisoryLock<T>(dataSource: DataSource, key: number, work: () => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  } finally {
    await runner.release();
  }
}

/** Holds a lock named by text until the caller's transaction ends. */
export async function lockForTransaction(m: EntityManager, name: string): Promise<void> {
  await m.query(`SELECT pg_advisory_xact_lock(${TEXT_KEY})`, [name]);
}

/** Tries a session lock named by text (or by number) on `session`; false if someone holds it. */
export async function tryLockOnSession(session: PoolClient, name: string | number): Promise<boolean> {
  const key = typeof name === 'number' ? '$1::bigint' : TEXT_KEY;
  const [row] = (await session.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${key}) AS locked`, [name]))
    .rows;
  return row?.locked === true;
}

/** Gives back every session lock `session` holds. */
export async function unlockAllOnSession(session: PoolClient): Promise<void> {
  await session.query('SELECT pg_advisory_unlock_all()');
}
