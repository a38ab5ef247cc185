import { ADVISORY_LOCKS } from '../../shared/database/advisory-locks';
import type { LockSession, LockSessions } from '../../shared/database/dialects';
import type { Logger } from '../../shared/logger';

export interface HeldLocks {
  /** The concurrency slot taken (0 ≤ slot < the global limit). */
  readonly slot: number;
  release(): Promise<void>;
}

export type LockAttempt = HeldLocks | 'instance-busy' | 'no-slot';

export interface SlotWaitOptions {
  /**
   * How long a job that found every slot taken waits here for one before it is refused ('no-slot',
   * and put back on the queue for 0.5–1.5 s). 0: refused at once.
   */
  slotWaitMs?: number;
  /** While waiting, how often the slots are tried again for a slot freed by another process (jittered ±50%). */
  pollMs?: number;
}

/** A job of this process that ends wakes one waiter at once; others' ends are seen by polling. */
const DEFAULT_SLOT_POLL_MS = 100;

/**
 * What a running job holds in the admin database, on one session of its own for the whole
 * run: the per-instance lock (no two workers on one instance, even if BullMQ misjudges a
 * stall) and one of GLOBAL_CONCURRENCY slot locks (the limit holds whatever happens to
 * Redis). A worker that dies loses its session, and both locks with it, at once.
 *
 * A job that finds every slot taken may wait here a while (SlotWaitOptions) rather than be put
 * back at once: in a burst, BullMQ's gate lets a few more jobs be active than there are slots
 * (worker/worker.ts), and putting each of them back for 0.5–1.5 s made the workers churn through
 * the waiting jobs (admin-database and Redis round trips for every refusal) while slots stood idle
 * between a job's end and the next due retry. A waiter holds its instance lock and its session;
 * the number of waiters is bounded by the worker's concurrency.
 */
export class JobLocks {
  private readonly slotWaitMs: number;
  private readonly pollMs: number;
  /** Wakes the waiters of this process: one when a slot is given back, all when stopping. */
  private waiters: (() => void)[] = [];
  private stopped = false;

  constructor(
    /** Sized to the worker's concurrency (+1): a job never waits here behind another job. */
    private readonly sessions: LockSessions,
    private readonly slots: number,
    private readonly log: Logger,
    options: SlotWaitOptions = {},
  ) {
    this.slotWaitMs = options.slotWaitMs ?? 0;
    this.pollMs = options.pollMs ?? DEFAULT_SLOT_POLL_MS;
  }

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
      const slot = await this.waitForSlot(session);
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
            () => {
              giveBack();
              this.waiters.shift()?.();
            },
            (err: Error) => {
              giveBack(err);
              this.waiters.shift()?.();
            },
          ),
      };
    } catch (err) {
      giveBack(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /** Ends every wait for a slot at once (the waiters are refused 'no-slot'): the worker is stopping. */
  stopWaiting(): void {
    this.stopped = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  async close(): Promise<void> {
    this.stopWaiting();
    await this.sessions.close();
  }

  /** A free slot, waiting up to slotWaitMs for one: woken by a job of this process ending, or by the poll. */
  private async waitForSlot(session: LockSession): Promise<number | null> {
    const deadline = Date.now() + this.slotWaitMs;
    for (;;) {
      const slot = await this.takeSlot(session);
      const left = deadline - Date.now();
      if (slot !== null || left <= 0 || this.stopped) return slot;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, Math.round(this.pollMs * (0.5 + Math.random()))));
        this.waiters.push(wake);
      });
    }
  }

  private async takeSlot(session: LockSession): Promise<number | null> {
    for (let slot = 0; slot < this.slots; slot++) {
      if (await session.tryLock(ADVISORY_LOCKS.concurrencySlot0 + slot)) return slot;
    }
    return null;
  }
}
