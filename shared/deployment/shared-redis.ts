import type { Logger } from '../logger';
import { errorMessage } from '../errors';
import type { RedisClient } from '../redis';

/** A deployment seen within this long is taken to be running. */
const RECENT_MS = 10 * 60_000;

/**
 * Records this deployment under the queue prefix in Redis and says, loudly, when another
 * deployment uses the same Redis and prefix. Their queues are apart (the queue name carries
 * the deployment id), but the operator most likely meant to give each its own prefix.
 * Returns the ids of the other deployments seen. Never throws: Redis may be down at start.
 */
export class SharedRedisWatch {
  private readonly warned = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly deploymentId: string,
    private readonly log: Logger,
  ) {}

  /** Checks now, on every reconnect, and every `intervalMs`, until stop(). */
  start(intervalMs = 60_000): void {
    void this.check();
    this.redis.on('ready', this.onReady);
    this.timer = setInterval(() => void this.check(), intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.redis.removeListener('ready', this.onReady);
  }

  private readonly onReady = () => void this.check();
  private timer?: NodeJS.Timeout;

  get key(): string {
    return `${this.prefix}:deployments`;
  }

  async check(): Promise<string[]> {
    try {
      const now = Date.now();
      // The whole record expires once no deployment has written to it for a while, so a
      // deployment that is gone (or a test's) leaves nothing behind.
      const [, , seen] =
        (await this.redis
          .multi()
          .hset(this.key, this.deploymentId, String(now))
          .pexpire(this.key, 2 * RECENT_MS)
          .hgetall(this.key)
          .exec()) ?? [];
      const all = (seen?.[1] ?? {}) as Record<string, string>;
      const others = Object.entries(all)
        .filter(([id, at]) => id !== this.deploymentId && now - Number(at) < RECENT_MS)
        .map(([id]) => id);
      for (const other of others.filter((id) => !this.warned.has(id))) {
        this.warned.add(other);
        this.log.error(
          'another deployment uses this Redis with the same QUEUE_PREFIX; give each deployment its own prefix',
          {
            event: 'deployment.redis_shared',
            deploymentId: this.deploymentId,
            otherDeploymentId: other,
            queuePrefix: this.prefix,
          },
        );
      }
      return others;
    } catch (err) {
      this.log.debug('could not check for other deployments on this Redis', {
        event: 'deployment.redis_check_failed',
        error: errorMessage(err),
      });
      return [];
    }
  }
}
