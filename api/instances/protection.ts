import type { InstanceEntity } from '../../shared/database/entities';
import type { Operation } from '../../shared/instances/status';
import { instancePath } from '../http/resources';

/** The deployment's side of what may be deleted: INSTANCE_DELETES_ENABLED. */
export interface DeletionPolicy {
  deletesEnabled: boolean;
}

/** What a protected instance refuses until it is unprotected: anything that takes its database or name away, or lets go of it. */
const REFUSED_WHILE_PROTECTED: readonly Operation[] = ['delete', 'rename', 'release'];

const PAST: Record<Operation, string> = {
  create: 'created',
  delete: 'deleted',
  rename: 'renamed',
  release: 'released',
};

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
  // A release drops nothing, so INSTANCE_DELETES_ENABLED=false leaves it allowed (docs/adopt-release.md).
  if (op === 'delete' && !policy.deletesEnabled) {
    return 'Instance deletes are turned off in this deployment (INSTANCE_DELETES_ENABLED=false): no instance can be deleted.';
  }
  if (instance.protected && REFUSED_WHILE_PROTECTED.includes(op)) {
    return (
      `This instance is protected: it cannot be ${PAST[op]}. ` +
      `Unprotect it first (POST ${instancePath(instance.id)}/unprotect), then ask again.`
    );
  }
  return undefined;
}
