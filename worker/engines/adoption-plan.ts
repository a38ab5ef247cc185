import type { OperationPlan, PlannedStatement, PlanRequest } from './module';

/** An engine's statements for the steps of worker/engines/ownership.ts's adoptDatabase and releaseDatabase. */
export interface MarkerStatements {
  describe(name: string): PlannedStatement[];
  markOwner(name: string, instanceId: string): PlannedStatement[];
  clearOwner(name: string): PlannedStatement[];
  assertWritable(name: string): PlannedStatement[];
}

function when(statements: PlannedStatement[], condition: string): PlannedStatement[] {
  return statements.map((s) => ({ ...s, when: s.when ? `${condition}; ${s.when}` : condition }));
}

/**
 * The plan of an adopt or a release, the same on every engine (the rules are shared): a look,
 * then the marker set or removed. Nothing is copied, dropped or renamed.
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
        ...when(statements.markOwner(databaseName, instanceId), `when "${databaseName}" carries no marker`),
        ...statements.assertWritable(databaseName),
      ],
      privileges,
      notes: [
        `Nothing is copied: "${databaseName}" must exist. Missing, or carrying another instance's marker, the job fails and nothing is changed.`,
        `When "${databaseName}" already carries this instance's marker (a re-run), only the write probe runs on it.`,
      ],
    };
  }
  return {
    engine,
    operation: 'release',
    strategy: null,
    statements: [
      ...statements.describe(databaseName),
      ...when(statements.clearOwner(databaseName), `when "${databaseName}" carries this instance's marker`),
    ],
    privileges,
    notes: [
      `Nothing is dropped: "${databaseName}" is kept, without this instance's marker, and the instance is kept as history (Released).`,
      `A missing "${databaseName}", or one without a marker (a re-run), leaves nothing to do; another instance's marker fails the job, untouched.`,
    ],
  };
}
