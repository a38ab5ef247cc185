import type { DataSource, QueryRunner } from 'typeorm';

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Mutual exclusion per instance across all workers: a session advisory lock in the admin
 * database. A worker that dies loses its connection and with it the lock, so a resumed job
 * never waits on a dead holder, and a stalled-but-alive holder is never run over.
 */
export class InstanceLocks {
  constructor(private readonly dataSource: DataSource) {}

  async tryAcquire(instanceId: string): Promise<HeldLock | null> {
    const runner: QueryRunner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [row] = await runner.query(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`, [`odsim:instance:${instanceId}`]);
      if (!row.locked) {
        await runner.release();
        return null;
      }
    } catch (err) {
      await runner.release();
      throw err;
    }
    return {
      release: async () => {
        try {
          await runner.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [`odsim:instance:${instanceId}`]);
        } finally {
          await runner.release();
        }
      },
    };
  }
}
