import { expect } from 'chai';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { databaseNameOf } from '../../shared/config';
import { withServer } from '../support/ods-server';
import { POSTGRES_URL } from '../support/settings';
import { HttpResult, Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';
import { Client } from 'pg';

function expectProblem(r: HttpResult, status: number): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(r.body.status).to.equal(status);
}

async function counts(stack: Stack): Promise<{ instances: number; jobs: number }> {
  return {
    instances: await stack.dataSource.getRepository(InstanceEntity).count(),
    jobs: await stack.dataSource.getRepository(JobEntity).count(),
  };
}

/** A plain session on the stack's admin database, as another client of it would hold. */
async function adminSession(stack: Stack): Promise<Client> {
  const client = new Client({ connectionString: stack.apiConfig.adminDatabase.url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('API hardening (issue 6)', () => {
  describe('with a worker', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(async () => stack.stop());

    describe('a deadlock between a create and a rename (finding 7)', () => {
      it('runs the losing transaction again instead of answering 500', async () => {
        const target = await stack.createInstance('dl_target');
        const other = await stack.createInstance('dl_other');
        const wanted = stack.db('dl_wanted');
        // Another transaction claims the wanted name first, as a racing create would...
        const racer = await adminSession(stack);
        try {
          const [pidRow] = (await racer.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows;
          if (!pidRow) throw new Error('pg_backend_pid() returned no row');
          const racerPid = pidRow.pid;
          await racer.query(`BEGIN`);
          await racer.query(`SET LOCAL deadlock_timeout = '20s'`); // so that the API's transaction is the one PostgreSQL aborts
          await racer.query(
            `INSERT INTO database_name_claims (name_key, instance_id, created_at) VALUES ($1, $2, now())`,
            [wanted.toLowerCase(), other.id],
          );
          // ...the rename locks its instance and waits for that claim...
          const rename = stack.request('PUT', `/admin/instances/${target.id}`, { body: { databaseName: wanted } });
          const adminDb = databaseNameOf(stack.apiConfig.adminDatabase.url);
          await waitFor(
            () =>
              withServer(
                async (c) =>
                  (
                    await c.query(
                      `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> $2`,
                      [adminDb, racerPid],
                    )
                  ).rowCount,
              ),
            'the rename to wait for the claim',
            10_000,
            20,
          );
          // ...and the racer then wants the instance the rename holds: a deadlock.
          await racer.query(`SELECT id FROM instances WHERE id = $1 FOR UPDATE`, [target.id]);
          await racer.query(`ROLLBACK`);
          const r = await rename;
          expect(r.status, JSON.stringify(r.body)).to.equal(200);
          expect(r.body).to.include({ status: 'PendingRename' });
        } finally {
          await racer.end();
        }
        await stack.waitForStatus(target.id, 'Created');
        expect((await stack.request('GET', `/admin/instances/${target.id}`)).body.databaseName).to.equal(wanted);
      });

      it('never answers 5xx to creates and renames racing for the same names', async () => {
        const seeds = await Promise.all([0, 1, 2].map((i) => stack.createInstance(`race_seed_${i}`)));
        const requests: Promise<HttpResult>[] = [];
        for (let round = 0; round < 10; round++) {
          const name = `Race ${stack.id} ${round}`;
          const db = stack.db(`race_${round}`);
          requests.push(stack.request('POST', '/admin/instances', { body: { instanceName: name, databaseName: db } }));
          for (const seed of seeds)
            requests.push(
              stack.request('PUT', `/admin/instances/${seed.id}`, { body: { instanceName: name, databaseName: db } }),
            );
        }
        const statuses = (await Promise.all(requests)).map((r) => r.status);
        const tally = statuses.reduce<Record<number, number>>((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});
        console.log(`      race: ${requests.length} requests, statuses ${JSON.stringify(tally)}`);
        expect(
          statuses.filter((s) => s >= 500),
          `statuses ${statuses.join(',')}`,
        ).to.deep.equal([]);
        expect(
          statuses.every((s) => [200, 201, 409].includes(s)),
          `statuses ${statuses.join(',')}`,
        ).to.equal(true);
      });
    });

    describe('look-alike instance names (finding 9)', () => {
      let base: string;
      before(async () => {
        base = `Grand Bend ${stack.id}`;
        const r = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `  ${base}\u00a0`, databaseName: stack.db('lookalike') },
        });
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        expect(r.body.instanceName, 'stored trimmed, with plain spaces').to.equal(base);
      });

      const variants: [string, (name: string) => string][] = [
        ['upper case', (n) => n.toUpperCase()],
        ['a no-break space', (n) => n.replace(' ', '\u00a0')],
        ['an ideographic space', (n) => n.replace(' ', '\u3000')],
        ['doubled spaces', (n) => n.replace(' ', '   ')],
        ['leading and trailing spaces', (n) => ` ${n} `],
        ['fullwidth letters', (n) => n.replace('Grand', '\uff27\uff52\uff41\uff4e\uff44')],
      ];
      for (const [what, variant] of variants) {
        it(`refuses a second instance whose name differs only by ${what} (409)`, async () => {
          const before = await counts(stack);
          const r = await stack.request('POST', '/admin/instances', {
            body: {
              instanceName: variant(base),
              databaseName: stack.db(`la_${variants.findIndex(([w]) => w === what)}`),
            },
          });
          expectProblem(r, 409);
          expect(await counts(stack)).to.deep.equal(before);
        });
      }

      it('refuses a name whose words are spelled in Cyrillic letters that look Latin (409)', async () => {
        const latin = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `Ace ${stack.id} Cox`, databaseName: stack.db('ace') },
        });
        expect(latin.status).to.equal(201);
        const cyrillic = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `\u0410\u0441\u0435 ${stack.id} \u0421\u043e\u0445`, databaseName: stack.db('ace2') },
        });
        expectProblem(cyrillic, 409);
      });

      it('treats the NFC and NFD forms of a name as one name, and stores NFC', async () => {
        const nfc = `Caf\u00e9 ${stack.id}`;
        const created = await stack.request('POST', '/admin/instances', {
          body: { instanceName: nfc.normalize('NFD'), databaseName: stack.db('cafe') },
        });
        expect(created.status).to.equal(201);
        expect(created.body.instanceName).to.equal(nfc);
        const again = await stack.request('POST', '/admin/instances', {
          body: { instanceName: nfc, databaseName: stack.db('cafe2') },
        });
        expectProblem(again, 409);
      });

      for (const [what, text] of [
        ['a zero-width space', 'Grand\u200bBend'],
        ['a left-to-right mark', 'Grand\u200e Bend'],
        ['a byte-order mark', '\ufeffGrand Bend'],
        ['a right-to-left override', 'Grand \u202eBend'],
        ['a word joiner', 'Grand\u2060Bend'],
        ['a Hangul filler', 'Grand \u3164 Bend'],
        ['Cyrillic letters among Latin ones', 'Gr\u0430nd Bend'],
        ['Greek letters among Latin ones', 'Grand B\u03b5nd'],
      ] as const) {
        it(`refuses a name with ${what} (400, field error, nothing written)`, async () => {
          const before = await counts(stack);
          const r = await stack.request('POST', '/admin/instances', {
            body: { instanceName: `${text} ${stack.id} x`, databaseName: stack.db('refused') },
          });
          expectProblem(r, 400);
          expect(r.body.errors).to.have.keys('instanceName');
          const renamed = await stack.request(
            'PUT',
            `/admin/instances/${(await stack.request('GET', '/admin/instances?limit=1')).body[0].id}`,
            { body: { instanceName: `${text} ${stack.id} y` } },
          );
          expectProblem(renamed, 400);
          expect(await counts(stack)).to.deep.equal(before);
        });
      }

      it('accepts names wholly in another script, and finds names by a look-alike search', async () => {
        const r = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `\u0428\u043a\u043e\u043b\u0430 ${stack.id}`, databaseName: stack.db('shkola') },
        });
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        const found = await stack.request(
          'GET',
          `/admin/instances?instanceName=${encodeURIComponent(`\uff27rand\u00a0bend ${stack.id}`)}`,
        );
        expect(found.body.map((i: { instanceName: string }) => i.instanceName)).to.deep.equal([base]);
      });
    });

    describe('errors shown to read-only clients (finding 12)', () => {
      it("gives read-only clients a summary of a failure and full-access clients the server's words", async () => {
        const name = stack.db('taken');
        await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
        try {
          const r = await stack.request('POST', '/admin/instances', {
            body: { instanceName: `Taken ${stack.id}`, databaseName: name },
          });
          await stack.waitForStatus(r.body.id, 'CreateFailed');
          const full = await stack.request('GET', `/admin/instances/${r.body.id}`);
          expect(full.body.lastError).to.contain(name);
          const read = await stack.request('GET', `/admin/instances/${r.body.id}`, { token: stack.tokens.read });
          expect(read.body.lastError).to.equal('The create failed. The details are shown to clients with full access.');
          const jobs = await stack.request('GET', `/admin/instances/${r.body.id}/jobs`, { token: stack.tokens.read });
          const job = await stack.request('GET', `/admin/jobs/${r.body.job.id}`, { token: stack.tokens.read });
          for (const text of [JSON.stringify(read.body), JSON.stringify(jobs.body), JSON.stringify(job.body)])
            expect(text).not.to.contain(full.body.lastError);
          expect(job.body.error).to.equal('The create failed. The details are shown to clients with full access.');
          expect((await stack.request('GET', `/admin/jobs/${r.body.job.id}`)).body.error).to.contain(name);
        } finally {
          await withServer((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)}`));
        }
      });
    });
  });

  describe('without a worker', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ worker: false, env: { MAX_UNFINISHED_JOBS_PER_CLIENT: '3' } });
    });
    after(async () => stack.stop());

    for (const key of ['__proto__', 'constructor', 'prototype']) {
      it(`refuses a body with a "${key}" key like any unknown field (400, finding 12)`, async () => {
        const before = await counts(stack);
        const r = await stack.request('POST', '/admin/instances', {
          rawBody: `{"instanceName":"Proto ${stack.id}","databaseName":"${stack.db('proto')}","${key}":{"x":1}}`,
        });
        expectProblem(r, 400);
        expect(r.body.errors).to.have.keys(key);
        expect(await counts(stack)).to.deep.equal(before);
      });
    }

    it("caps each client's unfinished jobs: past the cap, 429 with Retry-After, nothing written (finding 12)", async () => {
      for (let i = 0; i < 3; i++) {
        const r = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `Quota ${stack.id} ${i}`, databaseName: stack.db(`quota_${i}`) },
        });
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
      }
      const burst = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          stack.request('POST', '/admin/instances', {
            body: { instanceName: `Quota ${stack.id} more ${i}`, databaseName: stack.db(`quota_more_${i}`) },
          }),
        ),
      );
      expect(burst.map((r) => r.status)).to.deep.equal([429, 429, 429, 429, 429]);
      const refused = burst[0]!;
      expectProblem(refused, 429);
      expect(refused.headers.get('retry-after')).to.equal('10');
      expect(await counts(stack)).to.deep.equal({ instances: 3, jobs: 3 });
      // The cap is per client: another full-access client still may write.
      const other = await stack.token(await new ClientStore(stack.dataSource).create('quota-other', SCOPES.fullAccess));
      const accepted = await stack.request('POST', '/admin/instances', {
        token: other,
        body: { instanceName: `Quota ${stack.id} other`, databaseName: stack.db('quota_other') },
      });
      expect(accepted.status, JSON.stringify(accepted.body)).to.equal(201);
    });

    it('answers 503 with Retry-After while the admin database refuses connections (finding 8), and recovers', async () => {
      const adminDb = databaseNameOf(stack.apiConfig.adminDatabase.url);
      await withServer(async (c) => {
        await c.query(`ALTER DATABASE ${c.escapeIdentifier(adminDb)} ALLOW_CONNECTIONS false`);
        await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [adminDb]);
      }, POSTGRES_URL);
      try {
        for (const [method, path] of [
          ['GET', '/admin/instances'],
          ['GET', '/health/ready'],
        ] as const) {
          const r = await stack.request(method, path);
          expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).to.equal(503);
        }
        const list = await stack.request('GET', '/admin/instances');
        expectProblem(list, 503);
        expect(list.headers.get('retry-after')).to.equal('5');
      } finally {
        await withServer((c) => c.query(`ALTER DATABASE ${c.escapeIdentifier(adminDb)} ALLOW_CONNECTIONS true`));
      }
      await waitFor(
        async () => (await stack.request('GET', '/admin/instances')).status === 200,
        'the API to recover',
        10_000,
      );
    });
  });
});
