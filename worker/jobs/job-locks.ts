import type { Pool, PoolClient } from 'pg';
import { ADVISORY_LOCKS, tryLockOnSession, unlockAllOnSession } from '../../shared/database/advisory-locks';
import type { Logger } from '../../shared/logger';

export interface HeldLocks {
  /** The concurrency slot taken (0 ≤ slot < the global limit). */
  readonly slot: number;
  release(): Promise<void>;
}

export type LockAttempt = HeldLocks | 'instance-busy' | 'no-slot';

/**
 * What a running job holds in the admin database, on one session of its own for the whole
 * run: the per-instance advisory lock (no two workers on one instance, even if BullMQ
 * misjudges a stall) and one of GLOBAL_CONCURRENCY slot locks (the limit holds whatever
 * happens to Redis). A worker that dies loses its session, and both locks with it, at once.
 */
export class JobLocks {
  constructor(
    /** Sized to the worker's concurrency (+1): a job never waits here behind another job. */
    private readonly pool: Pool,
    private readonly slots: number,
    private readonly log: Logger,
  ) {
    // An idle session that breaks is replaced by the pool; nothing is held on it.
    pool.on('error', (err) =>
      log.warn('lock session error', { event: 'admin_db.lock_session_error', error: err.message }),
    );
  }

  async tryAcquire(instanceId: string): Promise<LockAttempt> {
    const session = await this.pool.connect();
    const lost = (err: Error) =>
      this.log.warn('lock session lost while a job held it; its locks are gone', {
        event: 'job.locks_lost',
        instanceId,
        error: err.message,
      });
    session.on('error', lost);
    const giveBack = (err?: Error): void => {
      session.removeListener('error', lost);
      // A session that failed is destroyed, not reused: the server then drops whatever it held.
      session.release(err ?? false);
    };
    try {
      if (!(await tryLockOnSession(session, `odsim:instance:${instanceId}`))) {
        giveBack();
        return 'instance-busy';
      }
      const slot = await this.takeSlot(session);
      if (slot === null) {
        await unlockAllOnSession(session).then(
          () => giveBack(),
          (err: Error) => giveBack(err),
        );
        return 'no-slot';
      }
      return {
        slot,
        release: () =>
          unlockAllOnSession(session).then(
            () => giveBack(),
            (err: Error) => giveBack(err),
          ),
      };
    } catch (err) {
      giveBack(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async takeSlot(session: PoolClient): Promise<number | null> {
    for (let slot = 0; slot < this.slots; slot++) {
      if (await tryLockOnSession(session, ADVISORY_LOCKS.concurrencySlot0 + slot)) return slot;
    }
    return null;
  }
}
