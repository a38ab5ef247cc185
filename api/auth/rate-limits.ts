import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ClientRateLimitInfo, IncrementResponse, MemoryStore, Options, rateLimit, Store } from 'express-rate-limit';
import { RedisReply, RedisStore } from 'rate-limit-redis';
import { errorMessage, TooManyRequestsError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { isCluster, masterConnections, type RedisClient } from '../../shared/redis';
import { withTimeout } from '../../shared/retry';

const WINDOW_MS = 60_000;
/** Longer than a healthy Redis ever takes; a stalled one must not stall the token endpoint. */
const REDIS_TIMEOUT_MS = 500;
/** At most one warning per limiter this often while Redis is failing. */
const WARN_EVERY_MS = 60_000;

/**
 * Counts in Redis, so every API process of the deployment shares one budget; in this process
 * when Redis does not answer (the API's connection has no offline queue: commands fail at
 * once), so an outage neither lifts the limit nor fails every token request.
 */
export class SharedLimitStore implements Store {
  readonly localKeys = false;
  private readonly shared: RedisStore;
  private readonly local = new MemoryStore();
  private options?: Options;
  /** Whether rate-limit-redis has loaded its script: it loads it once, in init(), and keeps a failed load forever. */
  private sharedReady: Promise<boolean> = Promise.resolve(false);
  private lastInitAt = 0;
  private lastWarnAt = 0;

  constructor(
    private readonly redis: RedisClient,
    readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.shared = new RedisStore({
      prefix,
      sendCommandCluster: ({ command: [name, ...args] }) =>
        // A script is loaded on every master of a cluster: its EVALSHA goes to the node of its key's slot.
        (isCluster(redis) && name!.toUpperCase() === 'SCRIPT'
          ? Promise.all(masterConnections(redis).map((node) => node.call(name!, ...args))).then((all) => all[0])
          : redis.call(name!, ...args)) as Promise<RedisReply>,
    });
  }

  init(options: Options): void {
    this.options = options;
    this.local.init(options);
    void this.initShared();
  }

  async increment(key: string): Promise<IncrementResponse> {
    try {
      if (!(await this.sharedReady) && !(await this.retryInit())) throw new Error('redis is not ready');
      return await withTimeout(this.shared.increment(key), REDIS_TIMEOUT_MS, 'redis did not answer');
    } catch (err) {
      this.fellBack(err);
      return this.local.increment(key);
    }
  }

  /** Undoes a count where it was made: in this process if the key was counted here during an outage. */
  async decrement(key: string): Promise<void> {
    if ((await this.local.get(key))?.totalHits) {
      await this.local.decrement(key);
      return;
    }
    await withTimeout(this.shared.decrement(key), REDIS_TIMEOUT_MS, 'redis did not answer').catch(() => undefined);
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    try {
      return await withTimeout(this.shared.get(key), REDIS_TIMEOUT_MS, 'redis did not answer');
    } catch {
      return this.local.get(key);
    }
  }

  async resetKey(key: string): Promise<void> {
    await this.local.resetKey(key);
    await withTimeout(this.shared.resetKey(key), REDIS_TIMEOUT_MS, 'redis did not answer').catch(() => undefined);
  }

  private initShared(): Promise<boolean> {
    if (!this.options) return this.sharedReady;
    this.lastInitAt = Date.now();
    this.sharedReady = withTimeout(this.shared.init(this.options), REDIS_TIMEOUT_MS, 'redis did not answer').then(
      () => true,
      () => false,
    );
    return this.sharedReady;
  }

  /** Loads the script again once the connection is up (at start it usually is not yet), or at most once a second. */
  private retryInit(): Promise<boolean> {
    if (this.redis.status === 'ready' || Date.now() - this.lastInitAt > 1000) return this.initShared();
    return Promise.resolve(false);
  }

  private fellBack(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = now;
    this.log.warn('rate limit counts kept in this process: redis does not answer', {
      event: 'rate_limit.local_fallback',
      store: this.prefix,
      error: errorMessage(err),
    });
  }
}

export interface TokenLimitSettings {
  redis: RedisClient;
  /** The deployment's QUEUE_PREFIX and id: two deployments on one Redis never share a count. */
  keyPrefix: string;
  perAddressPerMinute: number;
  perClientFailuresPerMinute: number;
  log: Logger;
  /** Called when a request is refused, before the 429 is sent. */
  onLimited?: (req: Request, limit: 'address' | 'client') => void;
}

const secondsUntil = (date: Date | undefined) =>
  Math.max(1, Math.ceil(((date?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));

/** Every token request counts against its source address; guessing from many addresses is what the per-client limit is for. */
export function perAddressLimit(s: TokenLimitSettings): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: s.perAddressPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    store: new SharedLimitStore(s.redis, `${s.keyPrefix}:rate:token-address:`, s.log),
    handler: (req, _res, next) => {
      s.onLimited?.(req, 'address');
      next(new TooManyRequestsError('Too many token requests; try again in a minute.'));
    },
  });
}

/**
 * Failed credential checks (401) per client id, from any address: once a client id has had
 * that many in a minute, every request naming it is refused until the window ends, the right
 * secret too (it cannot be told apart without hashing). Only failures count, so a client
 * that fetches many tokens legitimately is not limited by this.
 */
export function perClientLimit(
  s: TokenLimitSettings,
  clientIdOf: (req: Request) => string | undefined,
): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: s.perClientFailuresPerMinute,
    // The per-address limit's RateLimit headers stay the ones clients see; this one sets Retry-After itself.
    standardHeaders: false,
    legacyHeaders: false,
    requestPropertyName: 'clientRateLimit',
    store: new SharedLimitStore(s.redis, `${s.keyPrefix}:rate:token-client:`, s.log),
    skip: (req) => !clientIdOf(req),
    // A hash: any string can be sent as a client id, and the key must stay short and plain.
    keyGenerator: (req) =>
      createHash('sha256')
        .update(clientIdOf(req) ?? '')
        .digest('hex'),
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    handler: (req, res, next) => {
      const info = (req as Request & { clientRateLimit?: { resetTime?: Date } }).clientRateLimit;
      res.set('Retry-After', String(secondsUntil(info?.resetTime)));
      s.onLimited?.(req, 'client');
      next(new TooManyRequestsError('Too many failed token requests for this client; try again in a minute.'));
    },
  });
}
