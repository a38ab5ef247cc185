import type { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { canRequest, failedOperation, hasUnfinishedWork, isFinal, type Operation } from '../../shared/instances/status';
import { instancePath, jobPath } from '../http/resources';
import { ErrorDetail, visibleError } from '../jobs/representation';
import { type DeletionPolicy, protectionRefusal } from './protection';
import type { InstanceInventory } from '../../shared/inventory/store';

/** `policy`: INSTANCE_DELETES_ENABLED, which decides the delete link (the default only serves views without links). */
export function instanceView(
  instance: InstanceEntity,
  detail: ErrorDetail,
  job?: JobEntity | null,
  policy: DeletionPolicy = { deletesEnabled: true },
  /** The last inventory's facts and drift (reads); a write's answer has none (the instance just changed). */
  inventory?: InstanceInventory,
) {
  const failed = failedOperation(instance.status) ?? 'last operation';
  const may = (op: Operation) => canRequest(op, instance.status) && !protectionRefusal(op, instance, policy);
  const retryable = failedOperation(instance.status);
  const live = !isFinal(instance.status);
  return {
    id: instance.id,
    instanceName: instance.instanceName,
    databaseName: instance.databaseName,
    previousDatabaseName: instance.previousDatabaseName,
    status: instance.status,
    engine: instance.engine,
    lastError: visibleError(instance.lastError, failed, detail),
    createdAt: instance.createdAt.toISOString(),
    updatedAt: instance.updatedAt.toISOString(),
    deletedAt: instance.deletedAt?.toISOString() ?? null,
    // '' is the tenant of every instance in a deployment without tenants.
    tenant: instance.tenant === '' ? null : instance.tenant,
    instanceType: instance.instanceType,
    odsInstanceContexts: instance.contexts ?? [],
    odsInstanceId: instance.odsInstanceId,
    apiClientKeys: instance.apiClientKeys ?? [],
    protected: instance.protected,
    template: instance.template,
    inventory: inventory?.inventory ?? null,
    drift: inventory?.drift ?? null,
    /** The instance whose database this one's was copied from (docs/copy.md). */
    sourceInstanceId: instance.sourceInstanceId ?? null,
    adopted: instance.adopted,
    ...(job ? { job: { id: job.id, type: job.type, status: job.status } } : {}),
    _links: {
      self: { href: instancePath(instance.id) },
      jobs: { href: `${instancePath(instance.id)}/jobs` },
      ...(job ? { job: { href: jobPath(job.id) } } : {}),
      ...(instance.sourceInstanceId ? { copyOf: { href: instancePath(instance.sourceInstanceId) } } : {}),
      // What may be asked of it now (rename: PUT self, delete: DELETE self, release, retry, protect, unprotect: POST),
      // so clients need not know the state machine, the protection or the deployment's switch.
      ...(may('rename') ? { rename: { href: instancePath(instance.id) } } : {}),
      ...(may('delete') ? { delete: { href: instancePath(instance.id) } } : {}),
      ...(may('release') ? { release: { href: `${instancePath(instance.id)}/release` } } : {}),
      ...(retryable && !protectionRefusal(retryable, instance, policy)
        ? { retry: { href: `${instancePath(instance.id)}/retry` } }
        : {}),
      ...(live && !instance.protected && !hasUnfinishedWork(instance.status)
        ? { protect: { href: `${instancePath(instance.id)}/protect` } }
        : {}),
      ...(live && instance.protected ? { unprotect: { href: `${instancePath(instance.id)}/unprotect` } } : {}),
    },
  };
}
