import { scrypt } from 'node:crypto';

export interface PoolSaturation {
  /** How many of the blocking calls have finished so far. */
  finished(): number;
  /** Settles when all of them have finished. */
  done: Promise<void>;
}

/**
 * Occupies every thread of libuv's pool (UV_THREADPOOL_SIZE, 4 by default) with one slow
 * scrypt each, in this process: the same pool the in-process API of a test Stack uses. Each
 * call takes seconds (p = 40 repeats the 16 MB mix), so anything that needs a pool thread
 * waits until one finishes; the test then asks whether its request finished first.
 */
export function saturateThreadPool(threads = Number(process.env.UV_THREADPOOL_SIZE) || 4): PoolSaturation {
  let finished = 0;
  const calls = Array.from(
    { length: threads },
    (_, i) =>
      new Promise<void>((resolve) => {
        scrypt(`pool-filler-${i}`, 'salt', 32, { N: 16384, r: 8, p: 40, maxmem: 64 * 1024 * 1024 }, () => {
          finished += 1;
          resolve();
        });
      }),
  );
  return { finished: () => finished, done: Promise.all(calls).then(() => undefined) };
}
