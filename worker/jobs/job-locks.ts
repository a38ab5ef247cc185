import { ADVISORY_LOCKS } from '../../shared/database/advisory-locks';
import type { LockSession, LockSessions } from '../../shared/database/dialects';
import type { Logger } from '../../shared/logger';

export interface HeldLocks {
  /** The concurrency slot taken (0 ≤ slot < the global limit). */
  readonly slot: number;
  release(): Promise<void>;
}

export type LockAttempt = HeldLocks | 'instance-busy' | 'no-slot';

/**
 * What a running job holds in the admin database, on one session of its own for the whole
 * run: the per-instance lock (no two workers on one instance, even if BullMQ misjudges a
 * stall) and one of GLOBAL_CONCURRENCY slot locks (the limit holds whatever happens to
 * Redis). A worker that dies loses its session, and both locks with it, at once.
 */
export class JobLocks {
  constructor(
    /** Sized to the worker's concurrency (+1): a job never waits here behind another job. */
    private readonly sessions: LockSessions,
    private readonly slots: number,
    private readonly log: Logger,
  ) {}

  async tryAcquire(instanceId: string): Promise<LockAttempt> {
    const session = await this.sessions.acquire();
    session.onLost((err: Error) =>
      this.log.warn('lock session lost while a job held it; its locks are gone', {
        event: 'job.locks_lost',
        instanceId,
        error: err.message,
      }),
    );
    // A session that failed is destroyed, not reused: the server then drops whatever it held.
    const giveBack = (err?: Error): void => session.release(err);
    try {
      if (!(await session.tryLock(`odsim:instance:${instanceId}`))) {
        giveBack();
        return 'instance-busy';
      }
      const slot = await this.takeSlot(session);
      if (slot === null) {
        await session.unlockAll().then(
          () => giveBack(),
          (err: Error) => giveBack(err),
        );
        return 'no-slot';
      }
      return {
        slot,
        release: () =>
          session.unlockAll().then(
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
    await this.sessions.close();
  }

  private async takeSlot(session: LockSession): Promise<number | null> {
    for (let slot = 0; slot < this.slots; slot++) {
      if (await session.tryLock(ADVISORY_LOCKS.concurrencySlot0 + slot)) return slot;
    }
    return null;
  }
}
