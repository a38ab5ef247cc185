import { expect } from 'chai';
import { CapturedLog } from '../support/log-capture';
import { type Stack, startStack } from '../support/stack';

/**
 * The worker's admin-database steps run again when their transaction loses a deadlock, as the
 * API's do: the instance-count rows (kept by triggers) can be held by a concurrent API transaction
 * that changes several instances. A trigger made by the test fails the worker's claim once with
 * PostgreSQL's deadlock code (40P01); a sequence counts the tries, as it is not rolled back.
 */
describe('the worker, when an admin-database transaction loses a deadlock', () => {
  let stack: Stack;
  const log = new CapturedLog('worker-lost-race');

  before(async () => {
    stack = await startStack({ logger: log.logger });
    await stack.dataSource.query(`CREATE SEQUENCE test_claim_tries`);
    await stack.dataSource.query(`
      CREATE FUNCTION test_lose_first_claim() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('test_claim_tries') = 1 THEN
          RAISE EXCEPTION 'deadlock detected (made by the test)' USING ERRCODE = '40P01';
        END IF;
        RETURN NEW;
      END $$`);
    await stack.dataSource.query(`
      CREATE TRIGGER test_lose_first_claim BEFORE UPDATE ON instances FOR EACH ROW
      WHEN (NEW.status = 'CreateInProgress') EXECUTE PROCEDURE test_lose_first_claim()`);
  });
  after(async () => stack.stop());

  it('claims the job again at once, without spending one of its attempts', async () => {
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Lost race ${stack.id}`, databaseName: stack.db('lost_race') },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    await stack.waitForStatus(r.body.id, 'Created');

    const counted = await stack.dataSource.query<{ tries: number }[]>(
      `SELECT last_value::int AS tries FROM test_claim_tries`,
    );
    expect(counted[0]?.tries, 'the claim was tried twice').to.equal(2);
    const retried = log.events('admin_db.retrying');
    expect(retried, 'one retry of the claim').to.have.length(1);
    expect(retried[0]!.error).to.match(/deadlock detected/);
    expect(log.events('job.delivery_failed'), 'no delivery failed').to.deep.equal([]);
    const job = await stack.request('GET', `/admin/jobs/${r.body.job.id}`);
    expect(job.body).to.include({ status: 'succeeded', attempts: 1 });
  });
});
