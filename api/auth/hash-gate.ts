import { ServiceUnavailableError } from '../../shared/errors';

/** Told when a hash starts and ends (tests count how many run at once). */
export interface GateProbe {
  started(): void;
  finished(): void;
}

export interface GateLimits {
  /** Hashes at once. Kept below libuv's pool size so the pool always has threads for other work. */
  concurrency: number;
  /** Requests that may wait for a slot; one more is refused at once. */
  queue: number;
}

/** How soon a refused caller may try again. */
const RETRY_AFTER_SECONDS = 1;

/**
 * The door in front of scrypt. Each token request costs ~60 ms of a libuv thread, and the
 * pool is shared with everything else in the process (fs, dns, zlib, some crypto), so an
 * unbounded flood would queue that other work behind the hashing. The gate runs at most
 * `concurrency` hashes, lets `queue` more wait, and answers the rest 503 without hashing.
 */
export class HashGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limits: GateLimits,
    private readonly probe?: GateProbe,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limits.concurrency) {
      this.running += 1;
    } else if (this.waiting.length < this.limits.queue) {
      // The finishing holder hands its slot over: `running` does not change.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      throw new ServiceUnavailableError(
        'Too many token requests are being checked; try again shortly.',
        RETRY_AFTER_SECONDS,
      );
    }
    this.probe?.started();
    try {
      return await work();
    } finally {
      this.probe?.finished();
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
