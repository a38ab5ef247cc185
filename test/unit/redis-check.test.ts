import { expect } from 'chai';
import { redisSetupWarnings, RedisSetupFacts } from '../../worker/redis-check';

describe('the worker start-up check of Redis', () => {
  const good: RedisSetupFacts = { maxmemoryPolicy: 'noeviction', maxmemory: 0, aofEnabled: true, rdbSnapshots: false };
  const events = (facts: Partial<RedisSetupFacts>) => redisSetupWarnings({ ...good, ...facts }).map((w) => w.event);

  it('is quiet about a Redis that neither evicts nor forgets', () => {
    expect(events({})).to.deep.equal([]);
    expect(events({ maxmemory: 100 * 2 ** 20 })).to.deep.equal([]);
    expect(events({ aofEnabled: false, rdbSnapshots: true })).to.deep.equal([]);
    // An eviction policy with no memory limit never evicts.
    expect(events({ maxmemoryPolicy: 'allkeys-lru', maxmemory: 0 })).to.deep.equal([]);
  });

  it('warns of eviction under a memory limit, and of nothing kept on disk, one warning each', () => {
    expect(events({ maxmemoryPolicy: 'allkeys-lru', maxmemory: 100 * 2 ** 20 })).to.deep.equal(['redis.eviction_risk']);
    expect(events({ maxmemoryPolicy: 'volatile-ttl', maxmemory: 1 })).to.deep.equal(['redis.eviction_risk']);
    expect(events({ aofEnabled: false, rdbSnapshots: false })).to.deep.equal(['redis.not_persistent']);
    const both = redisSetupWarnings({
      maxmemoryPolicy: 'allkeys-lru',
      maxmemory: 1,
      aofEnabled: false,
      rdbSnapshots: false,
    });
    expect(both.map((w) => w.event)).to.deep.equal(['redis.eviction_risk', 'redis.not_persistent']);
    for (const w of both) expect(w.message).to.match(/reconciler .* admin database/);
  });

  it('says it could not check a Redis that refuses CONFIG (managed Redis), and guesses nothing', () => {
    expect(events({ maxmemoryPolicy: null, maxmemory: null, rdbSnapshots: null, aofEnabled: false })).to.deep.equal([
      'redis.config_unchecked',
    ]);
    expect(events({ maxmemoryPolicy: null, maxmemory: null, rdbSnapshots: null, aofEnabled: null })).to.deep.equal([
      'redis.config_unchecked',
    ]);
  });
});
