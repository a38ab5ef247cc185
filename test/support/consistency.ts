import { expect } from 'chai';
import { AuditEventEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { stagingDatabaseName } from '../../shared/database-names';
import { isGone } from '../../shared/instances/status';
import { databasesLike, ownerOf } from './ods-server';
import type { Stack } from './stack';

/**
 * The server's databases match the admin records exactly: every live instance's database
 * exists and carries its marker, a released instance's database (if any) carries none, nothing
 * else of this stack's exists, no staging clone is left.
 */
export async function expectServerMatchesRecords(stack: Stack): Promise<void> {
  const instances = await stack.dataSource.getRepository(InstanceEntity).find();
  const expected = instances
    .filter((i) => !isGone(i.status) && i.status !== 'CreateFailed')
    .map((i) => i.databaseName)
    .sort();
  // Released: the database was kept, unmanaged (or was already gone); a live instance may have taken the name since.
  const released = new Set(instances.filter((i) => i.status === 'Released').map((i) => i.databaseName));
  const actual = await databasesLike(`t_${stack.id}_`);
  for (const name of actual.filter((n) => released.has(n) && !expected.includes(n)))
    expect(await ownerOf(name), `marker of released ${name}`).to.equal(null);
  expect(
    actual.filter((n) => !released.has(n) || expected.includes(n)),
    'databases on the server',
  ).to.deep.equal(expected);
  for (const instance of instances.filter((i) => expected.includes(i.databaseName))) {
    expect(await ownerOf(instance.databaseName), `marker of ${instance.databaseName}`).to.equal(instance.id);
  }
  const jobs = await stack.dataSource.getRepository(JobEntity).find();
  const staging = new Set(await databasesLike('odsim_staging_'));
  expect(
    jobs.map((j) => stagingDatabaseName(j.id)).filter((n) => staging.has(n)),
    'staging clones left',
  ).to.deep.equal([]);
}

/**
 * Each of `ids` reached Created through exactly one successful create (one audit row each,
 * whatever faults struck meanwhile). Returns how many of those cloned; the others found their
 * database already made by an earlier run and only finished the job.
 */
export async function expectEachCreatedOnce(stack: Stack, ids: string[]): Promise<{ clones: number }> {
  for (const id of ids)
    expect((await stack.request('GET', `/admin/instances/${id}`)).body.status, `instance ${id}`).to.equal('Created');
  const audit = await stack.dataSource
    .getRepository(AuditEventEntity)
    .find({ where: { action: 'instance.create', outcome: 'succeeded' } });
  expect(audit.map((a) => a.instanceId).sort(), 'one successful create per instance').to.deep.equal([...ids].sort());
  const outcomes = audit.map((a) => (JSON.parse(a.details!) as { outcome: string }).outcome);
  expect(
    outcomes.filter((o) => o !== 'created' && o !== 'already-created'),
    'other outcomes',
  ).to.deep.equal([]);
  return { clones: outcomes.filter((o) => o === 'created').length };
}
