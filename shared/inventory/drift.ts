import type { InstanceEntity, InventoryDatabaseEntity, InventoryRunEntity } from '../database/entities';
import type { InstanceStatus } from '../instances/status';

/**
 * Drift: an instance whose database was dropped, renamed or re-marked by hand, outside the
 * manager (docs/inventory.md). Only decided for an instance that should have its database now
 * and did not change since the inventory run began: status Created (so no unfinished job) and
 * updated before the run started. A *Failed instance is left out: its failure already says its
 * database may be missing or half-renamed. Drift is shown, never repaired.
 */
export const DRIFT_STATUS: InstanceStatus = 'Created';

export type DriftKind = 'missing' | 'marker';
export const DRIFT_KINDS: readonly DriftKind[] = ['missing', 'marker'];

export interface Drift {
  kind: DriftKind;
  detail: string;
  observedAt: string;
}

export interface InventoryFacts {
  observedAt: string;
  ageSeconds: number;
  exists: boolean;
  sizeBytes: number | null;
  state: string | null;
  connections: number | null;
  edfiOdsVersion: string | null;
  edfiStandardVersion: string | null;
}

type InstanceFields = Pick<InstanceEntity, 'id' | 'status' | 'databaseName' | 'createdAt' | 'updatedAt'>;

export function ageSeconds(at: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - at.getTime()) / 1000));
}

/**
 * What the last successful run saw of the instance's database; null when that run began
 * before the instance existed (it could not have seen it).
 */
export function inventoryFacts(
  instance: InstanceFields,
  run: Pick<InventoryRunEntity, 'startedAt' | 'finishedAt'> | null,
  database: InventoryDatabaseEntity | null,
  now: Date,
): InventoryFacts | null {
  if (!run?.finishedAt || run.startedAt < instance.createdAt) return null;
  const observedAt = database?.observedAt ?? run.finishedAt;
  return {
    observedAt: observedAt.toISOString(),
    ageSeconds: ageSeconds(observedAt, now),
    exists: database !== null,
    sizeBytes: database?.sizeBytes ?? null,
    state: database?.state ?? null,
    connections: database?.connections ?? null,
    edfiOdsVersion: database?.odsVersion ?? null,
    edfiStandardVersion: database?.standardVersion ?? null,
  };
}

/**
 * `markedElsewhere`: the names of other databases carrying this instance's marker (a rename
 * by hand keeps the marker).
 */
export function driftOf(
  instance: InstanceFields,
  run: Pick<InventoryRunEntity, 'startedAt' | 'finishedAt'> | null,
  database: InventoryDatabaseEntity | null,
  markedElsewhere: readonly string[],
): Drift | null {
  if (!run?.finishedAt || instance.status !== DRIFT_STATUS || !(instance.updatedAt < run.startedAt)) return null;
  const observedAt = (database?.observedAt ?? run.finishedAt).toISOString();
  if (!database) {
    const elsewhere = markedElsewhere.filter((name) => name !== instance.databaseName);
    return {
      kind: 'missing',
      detail: elsewhere.length
        ? `The database "${instance.databaseName}" is gone: renamed by hand to ${elsewhere.map((n) => `"${n}"`).join(', ')}, which carries this instance's marker.`
        : `The database "${instance.databaseName}" is not on the server: dropped or renamed outside the manager.`,
      observedAt,
    };
  }
  if (database.markerInstanceId !== instance.id) {
    return {
      kind: 'marker',
      detail: database.markerInstanceId
        ? `The database "${instance.databaseName}" carries the marker of another instance (${database.markerInstanceId}).`
        : `The database "${instance.databaseName}" carries no marker of this manager: it was replaced or re-made by hand.`,
      observedAt,
    };
  }
  return null;
}

/**
 * The same rule as driftOf, as SQL on `instances i` (a subquery, so a paged list needs no join):
 * `:driftStatus` and `:runStart` are its parameters. The name is the table's key, so "no row
 * with this name carrying this instance's marker" is "missing, or marked otherwise".
 */
export const DRIFT_SQL =
  'i.status = :driftStatus AND i.updated_at < :runStart AND NOT EXISTS (SELECT 1 FROM inventory_databases inv ' +
  'WHERE inv.database_name = i.database_name AND inv.marker_instance_id = i.id)';

/** Of the drifting instances, those whose database is not on the server at all. */
export const MISSING_SQL =
  'NOT EXISTS (SELECT 1 FROM inventory_databases inv WHERE inv.database_name = i.database_name)';
