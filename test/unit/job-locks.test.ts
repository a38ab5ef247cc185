import { expect } from 'chai';
import { ADVISORY_LOCKS } from '../../shared/database/advisory-locks';
import type { AdminLockName, LockSession, LockSessions } from '../../shared/database/dialects';
import { silentLogger } from '../../shared/logger';
import { JobLocks } from '../../worker/jobs/job-locks';

/** Lock sessions of any dialect, in memory: one holder per name, as the server keeps them. */
function memorySessions() {
  const holders = new Map<AdminLockName, number>();
  const events: string[] = [];
  let next = 0;
  const sessions: LockSessions = {
    acquire: () => {
      const id = ++next;
      const session: LockSession = {
        tryLock: (name) => {
          if (holders.has(name) && holders.get(name) !== id) return Promise.resolve(false);
          holders.set(name, id);
          return Promise.resolve(true);
        },
        unlockAll: () => {
          for (const [name, holder] of holders) if (holder === id) holders.delete(name);
          events.push(`unlock ${id}`);
          return Promise.resolve();
        },
        release: (err) => void events.push(`release ${id}${err ? ' (destroyed)' : ''}`),
        onLost: () => undefined,
      };
      return Promise.resolve(session);
    },
    close: () => Promise.resolve(),
  };
  return { sessions, holders, events };
}

describe('job locks, on whatever lock sessions the admin dialect gives', () => {
  it('takes the instance lock and the first free concurrency slot on one session, and gives both back', async () => {
    const { sessions, holders, events } = memorySessions();
    const locks = new JobLocks(sessions, 2, silentLogger());
    const first = await locks.tryAcquire('a');
    const second = await locks.tryAcquire('b');
    expect(first).to.include({ slot: 0 });
    expect(second).to.include({ slot: 1 });
    expect(holders.get('odsim:instance:a')).to.equal(holders.get(ADVISORY_LOCKS.concurrencySlot0));
    if (typeof first === 'string') throw new Error('expected locks');
    await first.release();
    expect(events).to.deep.equal(['unlock 1', 'release 1']);
    expect(holders.has('odsim:instance:a')).to.equal(false);
  });

  it('says instance-busy while another job holds the instance, and no-slot when every slot is taken', async () => {
    const { sessions, events } = memorySessions();
    const locks = new JobLocks(sessions, 1, silentLogger());
    await locks.tryAcquire('a');
    expect(await locks.tryAcquire('a')).to.equal('instance-busy');
    expect(await locks.tryAcquire('b')).to.equal('no-slot');
    // The refused sessions are handed back, the one that took the instance lock after unlocking it.
    expect(events).to.deep.equal(['release 2', 'unlock 3', 'release 3']);
  });

  describe('a job that finds every slot taken, given a while to wait for one', () => {
    it('takes the slot a job of this worker gives back, at once, without waiting for the poll', async () => {
      const { sessions, holders } = memorySessions();
      // A poll too slow to matter: only the wake-up on release can hand the slot over in time.
      const locks = new JobLocks(sessions, 1, silentLogger(), { slotWaitMs: 60_000, pollMs: 60_000 });
      const first = await locks.tryAcquire('a');
      if (typeof first === 'string') throw new Error('expected locks');
      const waiting = locks.tryAcquire('b');
      // While it waits, b already holds its instance lock (no second worker starts b meanwhile).
      await new Promise((resolve) => setImmediate(resolve));
      expect(holders.has('odsim:instance:b')).to.equal(true);
      await first.release();
      const second = await waiting;
      expect(second).to.include({ slot: 0 });
      expect(holders.get(ADVISORY_LOCKS.concurrencySlot0)).to.equal(holders.get('odsim:instance:b'));
    });

    it('takes a slot freed by another process, found by polling', async () => {
      const { sessions, holders } = memorySessions();
      const locks = new JobLocks(sessions, 1, silentLogger(), { slotWaitMs: 60_000, pollMs: 5 });
      holders.set(ADVISORY_LOCKS.concurrencySlot0, -1); // another worker's job
      const waiting = locks.tryAcquire('b');
      await new Promise((resolve) => setTimeout(resolve, 20));
      holders.delete(ADVISORY_LOCKS.concurrencySlot0);
      expect(await waiting).to.include({ slot: 0 });
    });

    it('says no-slot when none came free in time, and gives back the instance lock', async () => {
      const { sessions, holders, events } = memorySessions();
      const locks = new JobLocks(sessions, 1, silentLogger(), { slotWaitMs: 30, pollMs: 5 });
      holders.set(ADVISORY_LOCKS.concurrencySlot0, -1);
      expect(await locks.tryAcquire('b')).to.equal('no-slot');
      expect(holders.has('odsim:instance:b')).to.equal(false);
      expect(events).to.deep.equal(['unlock 1', 'release 1']);
    });

    it('stops waiting at once when the worker stops', async () => {
      const { sessions, holders } = memorySessions();
      const locks = new JobLocks(sessions, 1, silentLogger(), { slotWaitMs: 60_000, pollMs: 60_000 });
      holders.set(ADVISORY_LOCKS.concurrencySlot0, -1);
      const waiting = locks.tryAcquire('b');
      await new Promise((resolve) => setImmediate(resolve));
      locks.stopWaiting();
      expect(await waiting).to.equal('no-slot');
      expect(holders.has('odsim:instance:b')).to.equal(false);
    });
  });
});
