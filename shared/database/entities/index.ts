import { ApiClientEntity } from './api-client.entity';
import { AuditEventEntity } from './audit-event.entity';
import { DatabaseNameClaimEntity } from './database-name-claim.entity';
import { InstanceEntity } from './instance.entity';
import { InventoryDatabaseEntity, InventoryRunEntity } from './inventory.entity';
import { JobEntity } from './job.entity';

export {
  ApiClientEntity,
  AuditEventEntity,
  DatabaseNameClaimEntity,
  InstanceEntity,
  InventoryDatabaseEntity,
  InventoryRunEntity,
  JobEntity,
};
export const ENTITIES = [
  InstanceEntity,
  JobEntity,
  AuditEventEntity,
  ApiClientEntity,
  DatabaseNameClaimEntity,
  InventoryDatabaseEntity,
  InventoryRunEntity,
];
