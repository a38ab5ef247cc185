import type { OperationPlan, PlannedStatement, PlanRequest } from '../module';
import { commandArguments, type Invocation, renderCommandLine } from './invocation';
import type { CommandSettings } from './settings';
import { verifyEngine } from './verify-engines';
import { planAdoption } from '../adoption-plan';

function when(statements: PlannedStatement[], condition: string): PlannedStatement[] {
  return statements.map((s) => ({ ...s, when: s.when ? `${condition}; ${s.when}` : condition }));
}

/**
 * The command line the worker would run for one operation (its exact arguments, and a quoted
 * rendering to read), between the verify engine's looks at the server before and after.
 */
export function planCommand(request: PlanRequest, settings: CommandSettings): OperationPlan {
  const { inspection } = verifyEngine(settings.verify.engine);
  const command = (call: Invocation, condition?: string): PlannedStatement => {
    const argv = commandArguments(settings.args, call);
    return {
      purpose: `run the external command (${call.operation}); exit 0 is success, then checked on the server`,
      sql: renderCommandLine(settings.path, argv),
      argv,
      ...(condition ? { when: condition } : {}),
    };
  };
  const base = {
    engine: 'command',
    operation: request.operation,
    privileges: [
      `the worker's user may execute ${settings.path}; the command brings its own credentials (ODS_COMMAND_ENV_*)`,
      `the worker's login on ODS_SERVER_URL (${settings.verify.engine}) can see the databases, mark the ones the command creates and write to them (on PostgreSQL: it owns them, or is a member of the owning role)`,
    ],
  };
  const notes = [
    `The command gets only PATH, HOME, USER, LANG, LC_ALL, LC_CTYPE, TZ, TMPDIR and the ODS_COMMAND_ENV_* variables (prefix removed); it runs with no shell and is ended with its process group after ${settings.timeoutMs} ms.`,
    `Exit codes ${settings.retryExitCodes.join(', ') || '(none)'} are retried with backoff; any other non-zero exit fails the job with the end of the command's output.`,
  ];
  if (request.operation === 'adopt' || request.operation === 'release') {
    const plan = planAdoption('command', request, inspection, base.privileges.slice(1));
    return {
      ...plan,
      notes: [...plan.notes, 'The external command is not run: the verify engine checks and marks the database.'],
    };
  }
  if (request.operation === 'create') {
    const { databaseName, stagingName, instanceId } = request;
    return {
      ...base,
      strategy: `external command ${settings.path}`,
      statements: [
        ...inspection.describe(databaseName),
        command(request, `when "${databaseName}" does not exist`),
        ...when(inspection.describe(databaseName), 'check: the command created it'),
        ...when(inspection.markOwner(databaseName, instanceId), 'when the command left it without a marker'),
        ...inspection.assertWritable(databaseName),
        ...when(inspection.describe(stagingName), 'check: the staging name is free again (a warning if not)'),
      ],
      notes: [
        `When "${databaseName}" already carries this instance's marker (a re-run), the command is not run; without it (or with another instance's), the job fails and nothing runs.`,
        ...notes,
      ],
    };
  }
  if (request.operation === 'rename') {
    const { from, to } = request;
    return {
      ...base,
      strategy: null,
      statements: [
        ...inspection.describe(from),
        ...inspection.describe(to),
        command(request, `when "${from}" carries this instance's marker and "${to}" does not exist`),
        ...when(inspection.describe(from), 'check: gone'),
        ...when(inspection.describe(to), "check: there, with this instance's marker"),
      ],
      notes,
    };
  }
  const { databaseName, instanceId } = request;
  return {
    ...base,
    strategy: null,
    statements: [
      ...when(inspection.describe(databaseName), "also each staging name of the instance's create jobs"),
      command(request, `when "${databaseName}" carries this instance's marker (and for each staging database found)`),
      ...when(inspection.describe(databaseName), 'check: gone'),
      ...when(inspection.markedElsewhere(instanceId), `when "${databaseName}" was already absent (a warning each)`),
    ],
    notes: ["A database without this instance's marker is never handed to the command.", ...notes],
  };
}
