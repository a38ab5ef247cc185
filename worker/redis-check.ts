import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { masterConnections, type RedisClient } from '../shared/redis';
import { withTimeout } from '../shared/retry';

/** What a Redis server says of its memory policy and persistence; null where it would not say. */
export interface RedisSetupFacts {
  /** `CONFIG GET maxmemory-policy`; null when CONFIG is disabled (as on many managed Redis). */
  maxmemoryPolicy: string | null;
  /** `CONFIG GET maxmemory` in bytes; 0 is no limit. */
  maxmemory: number | null;
  /** `INFO persistence`: aof_enabled. */
  aofEnabled: boolean | null;
  /** `CONFIG GET save` is not empty: RDB snapshots are taken. */
  rdbSnapshots: boolean | null;
}

export interface RedisSetupWarning {
  event: 'redis.eviction_risk' | 'redis.not_persistent' | 'redis.config_unchecked';
  message: string;
  details: Record<string, unknown>;
}

const RECOVERY =
  'the reconciler enqueues lost jobs again from the admin database, but fix the Redis configuration (docs/redis.md)';

/**
 * What is wrong with a server's setup for BullMQ, as one warning each: evicting keys under a
 * memory limit (BullMQ's keys among them), keeping nothing on disk, or not letting us look.
 */
export function redisSetupWarnings(facts: RedisSetupFacts): RedisSetupWarning[] {
  const warnings: RedisSetupWarning[] = [];
  if (facts.maxmemoryPolicy === null && facts.rdbSnapshots === null)
    warnings.push({
      event: 'redis.config_unchecked',
      message: 'could not read the Redis configuration (CONFIG is disabled?): make sure maxmemory-policy is noeviction',
      details: {},
    });
  if (facts.maxmemoryPolicy !== null && facts.maxmemoryPolicy !== 'noeviction' && (facts.maxmemory ?? 0) > 0)
    warnings.push({
      event: 'redis.eviction_risk',
      message: `Redis may evict queued jobs when it reaches maxmemory (maxmemory-policy ${facts.maxmemoryPolicy}; BullMQ needs noeviction): ${RECOVERY}`,
      details: { maxmemoryPolicy: facts.maxmemoryPolicy, maxmemory: facts.maxmemory },
    });
  if (facts.aofEnabled === false && facts.rdbSnapshots === false)
    warnings.push({
      event: 'redis.not_persistent',
      message: `Redis keeps nothing on disk (neither AOF nor RDB snapshots): a restart loses every queued job; ${RECOVERY}`,
      details: { appendonly: false, save: '' },
    });
  return warnings;
}

/** Reads the facts from one server; each question that is refused (CONFIG disabled, say) leaves its fact null. */
export async function readRedisSetup(node: ReturnType<typeof masterConnections>[number]): Promise<RedisSetupFacts> {
  const config = async (name: string): Promise<string | null> => {
    try {
      const reply = (await node.call('CONFIG', 'GET', name)) as string[];
      return reply.length >= 2 ? String(reply[1]) : null;
    } catch {
      return null;
    }
  };
  const [policy, maxmemory, save, info] = await Promise.all([
    config('maxmemory-policy'),
    config('maxmemory'),
    config('save'),
    node.info('persistence').catch(() => null),
  ]);
  const aof = info ? /^aof_enabled:(\d)/m.exec(info)?.[1] : undefined;
  return {
    maxmemoryPolicy: policy,
    maxmemory: maxmemory === null ? null : Number(maxmemory),
    aofEnabled: aof === undefined ? null : aof === '1',
    rdbSnapshots: save === null ? null : save.trim() !== '',
  };
}

/**
 * At start: warns (one log line each) when Redis could lose BullMQ's keys. Checks the master
 * (under Sentinel, the connection's server; on a cluster, each master). Never throws; gives up
 * after `timeoutMs` (Redis down at start), saying so.
 */
export async function checkRedisSetup(client: RedisClient, log: Logger, timeoutMs = 10_000): Promise<void> {
  try {
    await withTimeout(
      (async () => {
        if (client.status !== 'ready') await client.ping(); // a cluster knows its masters once connected
        for (const node of masterConnections(client)) {
          const facts = await readRedisSetup(node);
          const name = node.options.sentinels
            ? `master ${node.options.name}`
            : `${node.options.host}:${node.options.port}`;
          for (const w of redisSetupWarnings(facts)) log.warn(w.message, { event: w.event, node: name, ...w.details });
          log.info('redis configuration checked', { event: 'redis.checked', node: name, ...facts });
        }
      })(),
      timeoutMs,
      'redis did not answer',
    );
  } catch (err) {
    log.warn('could not check the Redis configuration', { event: 'redis.config_unchecked', error: errorMessage(err) });
  }
}
