import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { expectServerMatchesRecords } from '../support/consistency';
import { CapturedLog } from '../support/log-capture';
import { Stack, startStack } from '../support/stack';
import { SMALL_TEMPLATE } from '../support/settings';

/** Two deployments (two admin databases) that an operator pointed at one Redis with one QUEUE_PREFIX. */
describe('two deployments sharing one Redis and queue prefix', () => {
  const prefix = `odsimt_shared_${randomBytes(3).toString('hex')}`;
  const logs = [new CapturedLog(), new CapturedLog()] as const;
  let stacks: Stack[] = [];

  before(async () => {
    stacks = [
      // The small template: what is proven is that the deployments stay apart, not the copy.
      await startStack({
        env: { QUEUE_PREFIX: prefix, ODS_TEMPLATE_DATABASE: SMALL_TEMPLATE },
        logger: logs[0].logger,
      }),
      await startStack({
        env: { QUEUE_PREFIX: prefix, ODS_TEMPLATE_DATABASE: SMALL_TEMPLATE },
        logger: logs[1].logger,
      }),
    ];
  });
  after(async () => {
    for (const stack of stacks) await stack.stop();
  });

  it("never delivers one deployment's job to the other, and each finishes its own creates", async () => {
    const [first, second] = stacks;
    if (!first || !second) throw new Error('the two stacks did not start');
    expect(first.deploymentId).to.not.equal(second.deploymentId);
    const created = await Promise.all(
      stacks.flatMap((stack) =>
        Array.from({ length: 10 }, (_, i) =>
          stack
            .request('POST', '/admin/instances', {
              body: { instanceName: `Shared ${stack.id} ${i}`, databaseName: stack.db(`shared_${i}`) },
            })
            .then((r) => ({ stack, r })),
        ),
      ),
    );
    expect(created.map(({ r }) => r.status)).to.deep.equal(Array(20).fill(201));
    await Promise.all(created.map(({ stack, r }) => stack.waitForStatus(r.body.id, 'Created', 60_000)));
    const orphans = logs.reduce((n, log) => n + log.events('job.orphan_delivery').length, 0);
    console.log(`      20 creates in two deployments: ${orphans} deliveries to the wrong deployment`);
    for (const log of logs)
      expect(log.events('job.orphan_delivery'), "deliveries of the other deployment's jobs").to.deep.equal([]);
    for (const stack of stacks) await expectServerMatchesRecords(stack);
  });

  it('says loudly that another deployment uses the same Redis and prefix', async () => {
    // The first stack's worker started before the second existed; the second saw the first.
    const [first, second] = stacks;
    if (!first || !second) throw new Error('the two stacks did not start');
    const warning = logs[1].events('deployment.redis_shared');
    expect(warning, 'warning of the deployment that started second').to.have.length.greaterThan(0);
    expect(warning[0]!).to.include({
      level: 'error',
      deploymentId: second.deploymentId,
      otherDeploymentId: first.deploymentId,
      queuePrefix: prefix,
    });
  });
});
