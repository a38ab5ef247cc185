import type { OperationPlan, PlannedStatement, PlanRequest } from './module';

/** An engine's statements for the steps of worker/engines/ownership.ts's adoptDatabase and releaseDatabase. */
export interface MarkerStatements {
  describe(name: string): PlannedStatement[];
  markOwner(name: string, instanceId: string): PlannedStatement[];
  clearOwner(name: string): PlannedStatement[];
  assertWritable(name: string): PlannedStatement[];
}

/**
 * The plan of an adopt or a release, the same on every engine (the rules are shared): a look,
 * then the marker set or removed. Nothing is copied, dropped or renamed. The statements are the
 * usual path (an unmarked database adopted, a marked one released); the notes say the others.
 */
export function planAdoption(
  engine: string,
  request: Extract<PlanRequest, { operation: 'adopt' | 'release' }>,
  statements: MarkerStatements,
  privileges: string[],
): OperationPlan {
  const { databaseName, instanceId } = request;
  if (request.operation === 'adopt') {
    return {
      engine,
      operation: 'adopt',
      strategy: null,
      statements: [
        ...statements.describe(databaseName),
        ...statements.markOwner(databaseName, instanceId),
        ...statements.assertWritable(databaseName),
      ],
      privileges,
      notes: [
        `Nothing is copied: "${databaseName}" must exist. Missing, or carrying another instance's marker, the job fails and nothing is changed.`,
        `When "${databaseName}" already carries this instance's marker (a re-run), the marker is not set again; only the write probe runs on it.`,
      ],
    };
  }
  return {
    engine,
    operation: 'release',
    strategy: null,
    statements: [...statements.describe(databaseName), ...statements.clearOwner(databaseName)],
    privileges,
    notes: [
      `Nothing is dropped: "${databaseName}" is kept, without this instance's marker, and the instance is kept as history (Released).`,
      `A missing "${databaseName}", or one without a marker (a re-run), leaves nothing to do; another instance's marker fails the job, untouched.`,
    ],
  };
}
