import { expect } from 'chai';
import { loadApiConfig, loadWorkerConfig } from '../../shared/config';
import { ConfigurationError } from '../../shared/errors';
import { keyPrefix, parseRedisUrl, redactRedisUrl, RedisUrlError } from '../../shared/redis';

function problemsOf(url: string, sentinelPassword?: string): string[] {
  try {
    parseRedisUrl(url, sentinelPassword);
  } catch (err) {
    expect(err).to.be.instanceOf(RedisUrlError);
    return (err as RedisUrlError).problems;
  }
  throw new Error(`expected ${url} to be refused`);
}

describe('REDIS_URL: one server, a Sentinel set or a cluster', () => {
  describe('parseRedisUrl', () => {
    it('passes a single server URL through to ioredis as it is', () => {
      for (const url of ['redis://127.0.0.1:6379', 'rediss://u:p@cache.example:6380/2', 'redis://cache'])
        expect(parseRedisUrl(url)).to.deep.equal({ kind: 'single', url });
    });

    it('reads a Sentinel set: hosts (port 26379 by default), master name, database, Redis and Sentinel passwords', () => {
      expect(
        parseRedisUrl('redis-sentinel://:s%40cret@10.0.0.1:26380,sentinel-b,[::1]:5000/mymaster/3', 'sentinel-pw'),
      ).to.deep.equal({
        kind: 'sentinel',
        sentinels: [
          { host: '10.0.0.1', port: 26380 },
          { host: 'sentinel-b', port: 26379 },
          { host: '::1', port: 5000 },
        ],
        name: 'mymaster',
        db: 0 + 3,
        username: undefined,
        password: 's@cret',
        sentinelPassword: 'sentinel-pw',
        tls: false,
      });
      expect(parseRedisUrl('rediss-sentinel://app:pw@s1/main')).to.include({
        kind: 'sentinel',
        name: 'main',
        db: 0,
        username: 'app',
        password: 'pw',
        tls: true,
      });
    });

    it('reads a cluster: any of its nodes (port 6379 by default) and the password', () => {
      expect(parseRedisUrl('redis-cluster://:pw@127.0.0.1:7000,127.0.0.1:7001,node-c')).to.deep.equal({
        kind: 'cluster',
        nodes: [
          { host: '127.0.0.1', port: 7000 },
          { host: '127.0.0.1', port: 7001 },
          { host: 'node-c', port: 6379 },
        ],
        username: undefined,
        password: 'pw',
        tls: false,
      });
      expect(parseRedisUrl('REDISS-CLUSTER://n1:7000/')).to.include({ kind: 'cluster', tls: true });
    });

    it('refuses what it cannot read, saying why, and never repeats a password', () => {
      const cases: [string, RegExp, string?][] = [
        [
          'http://:hunter2@cache:6379',
          /must be a redis:\/\/, rediss:\/\/, redis-sentinel:\/\/ or redis-cluster:\/\/ URL \(not http:\/\/\)/,
        ],
        ['cache:6379', /must be a redis:\/\//],
        ['redis://:hunter2@h1:6379,h2:6379', /several hosts: use redis-sentinel:\/\/ or redis-cluster:\/\//],
        ['redis://:hunter2@cache/zero', /the database "zero" is not a number/],
        ['redis-sentinel://:hunter2@s1:26379,s2:26379', /must end with the master name, as in \/mymaster/],
        ['redis-sentinel://:hunter2@s1:26379,s2:99999/m', /"s2:99999" is not host or host:port/],
        ['redis-sentinel://:hunter2@s1,,s2/m', /"" is not host or host:port/],
        ['redis-sentinel://:hunter2@s1/m/x', /only a database number may follow/],
        ['redis-sentinel://:hunter2@s1/m?sentinelPassword=hunter2', /takes no query string/],
        ['redis-cluster://:hunter2@', /"" is not host or host:port/],
        ['redis-cluster://:hunter2@n1:7000/1', /takes no path/],
        [
          'redis-cluster://:hunter2@n1:7000',
          /REDIS_SENTINEL_PASSWORD is set but REDIS_URL is not a redis-sentinel/,
          'hunter2',
        ],
        ['redis://:hunter2@cache', /REDIS_SENTINEL_PASSWORD is set but/, 'hunter2'],
      ];
      for (const [url, expected, sentinelPassword] of cases) {
        const problems = problemsOf(url, sentinelPassword);
        expect(problems.join('\n'), url).to.match(expected);
        expect(problems.join('\n'), url).to.not.include('hunter2');
      }
      // Every problem at once.
      expect(problemsOf('redis-sentinel://s1:0,bad host')).to.have.length(3);
    });

    it('is checked with the rest of the configuration, for the API and the worker, hiding the password', () => {
      for (const load of [loadApiConfig, loadWorkerConfig]) {
        let error: unknown;
        try {
          load({ REDIS_URL: 'redis-sentinel://:hunter2@s1:26379,s2:26379', TOKEN_SIGNING_KEY: 'k'.repeat(32) });
        } catch (err) {
          error = err;
        }
        expect(error).to.be.instanceOf(ConfigurationError);
        expect((error as Error).message)
          .to.include('must end with the master name')
          .and.not.include('hunter2');
      }
      const sentinel = loadApiConfig({ REDIS_URL: 'redis-sentinel://s1,s2,s3/mymaster', REDIS_SENTINEL_PASSWORD: 'x' });
      expect(sentinel.redis.target).to.include({ kind: 'sentinel', name: 'mymaster', sentinelPassword: 'x' });
      expect(sentinel.redis.prefix).to.equal('odsim');
    });
  });

  describe('the key prefix', () => {
    it('is QUEUE_PREFIX, or on a cluster the hash tag {QUEUE_PREFIX}, in config too', () => {
      expect(keyPrefix('odsim', parseRedisUrl('redis://cache'))).to.equal('odsim');
      expect(keyPrefix('odsim', parseRedisUrl('redis-sentinel://s1/m'))).to.equal('odsim');
      expect(keyPrefix('odsim', parseRedisUrl('redis-cluster://n1,n2'))).to.equal('{odsim}');
      expect(loadApiConfig({ REDIS_URL: 'redis-cluster://n1:7000', QUEUE_PREFIX: 'prod_a' }).redis.prefix).to.equal(
        '{prod_a}',
      );
    });
  });

  describe('redactRedisUrl', () => {
    it('hides the password of every kind of URL, and leaves a URL without one alone', () => {
      expect(redactRedisUrl('redis://:hunter2@cache:6379')).to.equal('redis://:***@cache:6379');
      expect(redactRedisUrl('rediss://app:hunter2@cache:6380/1')).to.equal('rediss://app:***@cache:6380/1');
      expect(redactRedisUrl('redis-sentinel://:hun:ter2@s1:26379,s2:26379/m')).to.equal(
        'redis-sentinel://:***@s1:26379,s2:26379/m',
      );
      expect(redactRedisUrl('redis-cluster://u:hunter2@n1:7000,n2:7001')).to.equal(
        'redis-cluster://u:***@n1:7000,n2:7001',
      );
      expect(redactRedisUrl('redis-cluster://n1:7000,n2:7001')).to.equal('redis-cluster://n1:7000,n2:7001');
    });
  });
});
