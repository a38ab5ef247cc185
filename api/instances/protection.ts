import type { InstanceEntity } from '../../shared/database/entities';
import type { Operation } from '../../shared/instances/status';
import { instancePath } from '../http/resources';

/** The deployment's side of what may be deleted: INSTANCE_DELETES_ENABLED. */
export interface DeletionPolicy {
  deletesEnabled: boolean;
}

/** What a protected instance refuses until it is unprotected: anything that takes its database or name away. */
const REFUSED_WHILE_PROTECTED: readonly Operation[] = ['delete', 'rename'];

/**
 * Why `op` may not be asked of this instance whatever its status (the deployment's switch, the
 * instance's protection), or undefined. The service refuses with it (409); the representation
 * leaves out the links it would refuse. A rename here includes a change of instanceName alone.
 */
export function protectionRefusal(
  op: Operation,
  instance: Pick<InstanceEntity, 'id' | 'protected'>,
  policy: DeletionPolicy,
): string | undefined {
  if (op === 'delete' && !policy.deletesEnabled) {
    return 'Instance deletes are turned off in this deployment (INSTANCE_DELETES_ENABLED=false): no instance can be deleted.';
  }
  if (instance.protected && REFUSED_WHILE_PROTECTED.includes(op)) {
    const verb = op === 'delete' ? 'deleted' : 'renamed';
    return (
      `This instance is protected: it cannot be ${verb}. ` +
      `Unprotect it first (POST ${instancePath(instance.id)}/unprotect), then ask again.`
    );
  }
  return undefined;
}
