import { expect } from 'chai';
import { backoffDelay, retryTransient, RetryOptions, sleep, withTimeout } from '../../shared/retry';

class Transient extends Error {}
class Permanent extends Error {}

const fast = (overrides: Partial<RetryOptions> = {}): RetryOptions => ({
  attempts: 4,
  baseDelayMs: 1,
  maxDelayMs: 2,
  isTransient: (err) => err instanceof Transient,
  ...overrides,
});

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

describe('retrying transient failures', () => {
  describe('retryTransient', () => {
    it('returns the first success without retrying', async () => {
      const attempts: number[] = [];
      const result = await retryTransient(async (n) => {
        attempts.push(n);
        return 'ok';
      }, fast());
      expect(result).to.equal('ok');
      expect(attempts).to.deep.equal([1]);
    });

    it('retries a transient failure and returns the later success', async () => {
      const attempts: number[] = [];
      const result = await retryTransient(async (n) => {
        attempts.push(n);
        if (n < 3) throw new Transient(`try ${n}`);
        return n;
      }, fast());
      expect(result).to.equal(3);
      expect(attempts).to.deep.equal([1, 2, 3]);
    });

    it('does not retry a permanent failure', async () => {
      let calls = 0;
      const permanent = new Permanent('not ours');
      const err = await rejectionOf(
        retryTransient(async () => {
          calls++;
          throw permanent;
        }, fast()),
      );
      expect(err).to.equal(permanent);
      expect(calls).to.equal(1);
    });

    it('stops after `attempts` tries, the first included, and rethrows the last error', async () => {
      const attempts: number[] = [];
      const err = await rejectionOf(
        retryTransient(
          async (n) => {
            attempts.push(n);
            throw new Transient(`try ${n}`);
          },
          fast({ attempts: 3 }),
        ),
      );
      expect(attempts).to.deep.equal([1, 2, 3]);
      expect((err as Error).message).to.equal('try 3');
    });

    it('tries once only when attempts is 1', async () => {
      let calls = 0;
      await rejectionOf(
        retryTransient(
          async () => {
            calls++;
            throw new Transient('x');
          },
          fast({ attempts: 1 }),
        ),
      );
      expect(calls).to.equal(1);
    });

    it('stops retrying when a transient failure turns into a permanent one', async () => {
      const attempts: number[] = [];
      const err = await rejectionOf(
        retryTransient(
          async (n) => {
            attempts.push(n);
            throw n === 1 ? new Transient('blip') : new Permanent('gone');
          },
          fast({ attempts: 10 }),
        ),
      );
      expect(err).to.be.instanceOf(Permanent);
      expect(attempts).to.deep.equal([1, 2]);
    });

    it('reports each retry with the error, the attempt number and a delay within the policy', async () => {
      const seen: { attempt: number; delay: number; message: string }[] = [];
      await rejectionOf(
        retryTransient(
          async (n) => {
            throw new Transient(`try ${n}`);
          },
          fast({
            attempts: 3,
            baseDelayMs: 4,
            maxDelayMs: 6,
            onRetry: (err, attempt, delay) => seen.push({ attempt, delay, message: (err as Error).message }),
          }),
        ),
      );
      expect(seen.map((s) => [s.attempt, s.message])).to.deep.equal([
        [1, 'try 1'],
        [2, 'try 2'],
      ]);
      expect(seen[0]!.delay).to.be.within(2, 4);
      expect(seen[1]!.delay).to.be.within(3, 6);
    });

    it('does not retry once the signal is aborted', async () => {
      const controller = new AbortController();
      controller.abort();
      let calls = 0;
      await rejectionOf(
        retryTransient(
          async () => {
            calls++;
            throw new Transient('x');
          },
          fast({ signal: controller.signal }),
        ),
      );
      expect(calls).to.equal(1);
    });

    it('stops waiting between tries when the signal is aborted and rethrows a transient error', async () => {
      const controller = new AbortController();
      let calls = 0;
      const started = Date.now();
      const pending = retryTransient(
        async (n) => {
          calls++;
          throw new Transient(`try ${n}`);
        },
        {
          attempts: 5,
          baseDelayMs: 10_000,
          maxDelayMs: 10_000,
          isTransient: () => true,
          signal: controller.signal,
        },
      );
      setTimeout(() => controller.abort(), 20);
      const err = await rejectionOf(pending);
      expect(Date.now() - started).to.be.below(200);
      expect(err).to.be.instanceOf(Transient);
      // The backoff is 5-10 s, so without the abort no more than one try could have happened by now;
      // retryTransient currently makes one more try after the abort (see report), never more.
      expect(calls).to.be.within(1, 2);
    });
  });

  describe('backoffDelay', () => {
    const policy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };

    it('stays between half and all of base * 2^(attempt-1)', () => {
      for (const [attempt, ceiling] of [
        [1, 100],
        [2, 200],
        [3, 400],
        [4, 800],
      ] as const) {
        for (let i = 0; i < 500; i++) {
          expect(backoffDelay(attempt, policy), `attempt ${attempt}`).to.be.within(ceiling / 2, ceiling);
        }
      }
    });

    it('is capped at maxDelayMs however many attempts were made', () => {
      for (const attempt of [5, 10, 30, 100, 2000]) {
        for (let i = 0; i < 200; i++) {
          expect(backoffDelay(attempt, policy), `attempt ${attempt}`).to.be.within(500, 1_000);
        }
      }
    });

    it('grows with the attempt number', () => {
      const mean = (attempt: number) => {
        let sum = 0;
        for (let i = 0; i < 1000; i++) sum += backoffDelay(attempt, policy);
        return sum / 1000;
      };
      const [m1, m2, m3, m4] = [mean(1), mean(2), mean(3), mean(4)];
      expect(m2).to.be.greaterThan(m1);
      expect(m3).to.be.greaterThan(m2);
      expect(m4).to.be.greaterThan(m3);
    });

    it('has jitter: repeated delays for one attempt are not all the same', () => {
      const samples = new Set(Array.from({ length: 200 }, () => backoffDelay(4, policy)));
      expect(samples.size).to.be.greaterThan(10);
    });

    it('returns whole milliseconds', () => {
      for (let i = 0; i < 200; i++)
        expect(Number.isInteger(backoffDelay(3, { attempts: 5, baseDelayMs: 33, maxDelayMs: 999 }))).to.equal(true);
    });
  });

  describe('withTimeout', () => {
    it('resolves with the value when the promise settles in time', async () => {
      expect(await withTimeout(Promise.resolve(42), 50, 'too slow')).to.equal(42);
      const slowish = new Promise((resolve) => setTimeout(() => resolve('late but in time'), 10));
      expect(await withTimeout(slowish, 100, 'too slow')).to.equal('late but in time');
    });

    it('rejects with the given message after the timeout', async () => {
      const started = Date.now();
      const never = new Promise(() => undefined);
      const err = await rejectionOf(withTimeout(never, 30, 'enqueue timed out after 30 ms'));
      expect((err as Error).message).to.equal('enqueue timed out after 30 ms');
      expect(Date.now() - started).to.be.within(25, 200);
    });

    it("passes the promise's own rejection through when it comes first", async () => {
      const own = new Error('redis down');
      expect(await rejectionOf(withTimeout(Promise.reject(own), 50, 'too slow'))).to.equal(own);
    });
  });

  describe('sleep', () => {
    it('waits about the given time', async () => {
      const started = Date.now();
      await sleep(30);
      expect(Date.now() - started).to.be.within(25, 200);
    });

    it('returns early when the signal is aborted', async () => {
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 10);
      await sleep(5_000, controller.signal);
      expect(Date.now() - started).to.be.below(200);
    });
  });
});
