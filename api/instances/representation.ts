import type { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { canRequest, failedOperation } from '../../shared/instances/status';
import { instancePath, jobPath } from '../http/resources';
import { ErrorDetail, visibleError } from '../jobs/representation';

export function instanceView(instance: InstanceEntity, detail: ErrorDetail, job?: JobEntity | null) {
  const failed = failedOperation(instance.status) ?? 'last operation';
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
    ...(job ? { job: { id: job.id, type: job.type, status: job.status } } : {}),
    _links: {
      self: { href: instancePath(instance.id) },
      jobs: { href: `${instancePath(instance.id)}/jobs` },
      ...(job ? { job: { href: jobPath(job.id) } } : {}),
      // What may be asked of it now (rename: PUT self, delete: DELETE self, retry: POST), so clients need not know the state machine.
      ...(canRequest('rename', instance.status) ? { rename: { href: instancePath(instance.id) } } : {}),
      ...(canRequest('delete', instance.status) ? { delete: { href: instancePath(instance.id) } } : {}),
      ...(failedOperation(instance.status) ? { retry: { href: `${instancePath(instance.id)}/retry` } } : {}),
    },
  };
}
