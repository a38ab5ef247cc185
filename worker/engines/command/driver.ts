import { PermanentJobError } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import type {
  AdoptRequest,
  CreateRequest,
  DatabaseDescription,
  DropRequest,
  EngineDriver,
  OperationResult,
  ReleaseRequest,
  RenameRequest,
  ServerInspector,
  SurveyedDatabase,
} from '../engine';
import type { NameRules } from '../../../shared/database-names/rules';
import { commandArguments, Invocation, renderCommandLine } from './invocation';
import { lastLines, redactOutput } from './output';
import { CommandRun, runCommand } from './run';
import type { CommandSettings } from './settings';
import { adoptDatabase, assertOwned as assertOwnedBy, markedElsewhereWarnings, releaseDatabase } from '../ownership';

/** The script asked to be run again later (an exit code in ODS_COMMAND_RETRY_EXIT_CODES), or timed out when told to retry. */
export class CommandRetryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandRetryError';
  }
}

/** How much of the output goes into a job's error or warning (its columns hold 2000 characters). */
const MESSAGE_TAIL_CHARS = 1_000;
const WARNING_TAIL_CHARS = 600;

export interface CommandDriverOptions {
  settings: CommandSettings;
  /** The verify engine's look at the server (ODS_SERVER_URL). */
  inspector: ServerInspector;
  /** The verify engine's name rules: names are checked again before a script sees them. */
  names: NameRules;
  log: Logger;
  onStep?: (step: string) => Promise<void>;
}

/**
 * The external command engine: the configured executable does the work; the manager looks at
 * the server before (idempotence, never clobber) and after (no false success), and marks what
 * the script created as this instance's.
 */
export class CommandDriver implements EngineDriver {
  readonly engine = 'command' as const;
  /** The verify engine's survey, where it has one (PostgreSQL): the inventory looks at the same server. */
  readonly survey?: () => Promise<SurveyedDatabase[]>;

  constructor(private readonly options: CommandDriverOptions) {
    const { inspector } = options;
    if (inspector.survey) this.survey = () => inspector.survey!();
  }

  async create(req: CreateRequest): Promise<OperationResult> {
    const { inspector } = this.options;
    this.checkNames(req.databaseName);
    const existing = await inspector.describe(req.databaseName);
    if (existing) {
      // A re-run: the script already made it and it was marked, or it is someone else's.
      assertOwned(existing, req.instanceId, 'create');
      await inspector.assertWritable(req.databaseName);
      return { outcome: 'already-created', warnings: [] };
    }
    const run = await this.run({ operation: 'create', ...req });
    const made = await inspector.describe(req.databaseName);
    if (!made) throw disagrees(run, `the server does not show database "${req.databaseName}"`);
    if (made.ownerInstanceId === null) await inspector.markOwner(req.databaseName, req.instanceId);
    else if (made.ownerInstanceId !== req.instanceId)
      throw disagrees(
        run,
        `database "${req.databaseName}" carries the ownership marker of instance ${made.ownerInstanceId}; refusing to mark it as this instance's`,
      );
    await this.step('create.marked');
    await inspector.assertWritable(req.databaseName);
    const warnings = stderrWarning(run);
    if (await inspector.describe(req.stagingName))
      warnings.push(
        `staging database "${req.stagingName}" still exists after the command finished; it is removed when the instance is deleted`,
      );
    return { outcome: 'created', warnings };
  }

  /** The database exists already: no script runs; the verify engine checks and marks it (docs/adopt-release.md). */
  async adopt(req: AdoptRequest): Promise<OperationResult> {
    this.checkNames(req.databaseName);
    return adoptDatabase(this.options.inspector, req, (name) => this.step(name));
  }

  /** Nothing is dropped: no script runs; the verify engine removes the marker. */
  async release(req: ReleaseRequest): Promise<OperationResult> {
    this.checkNames(req.databaseName);
    return releaseDatabase(this.options.inspector, req, (name) => this.step(name));
  }

  async rename(req: RenameRequest): Promise<OperationResult> {
    const { inspector } = this.options;
    this.checkNames(req.from, req.to);
    const [source, target] = await Promise.all([inspector.describe(req.from), inspector.describe(req.to)]);
    if (target) {
      assertOwned(target, req.instanceId, 'rename onto');
      if (source)
        throw new PermanentJobError(`both "${req.from}" and "${req.to}" carry this instance's marker; resolve by hand`);
      return { outcome: 'already-renamed', warnings: [] };
    }
    if (!source) throw new PermanentJobError(`database "${req.from}" does not exist; nothing to rename`);
    assertOwned(source, req.instanceId, 'rename');
    const run = await this.run({ operation: 'rename', ...req });
    const [from, to] = await Promise.all([inspector.describe(req.from), inspector.describe(req.to)]);
    if (!to) throw disagrees(run, `the server does not show database "${req.to}"`);
    if (from) throw disagrees(run, `the server still shows database "${req.from}"`);
    if (to.ownerInstanceId !== req.instanceId)
      throw disagrees(run, `the server shows database "${req.to}" without this instance's ownership marker`);
    return { outcome: 'renamed', warnings: stderrWarning(run) };
  }

  async drop(req: DropRequest): Promise<OperationResult> {
    const { inspector } = this.options;
    const warnings: string[] = [];
    // Staging names are this instance's jobs' own (no request may take the prefix): a leftover goes by name.
    for (const staging of req.stagingNames) {
      if (await inspector.describe(staging)) warnings.push(...(await this.delete(req.instanceId, staging)));
    }
    this.checkNames(req.databaseName);
    const existing = await inspector.describe(req.databaseName);
    if (!existing) {
      const elsewhere = await inspector.databasesMarkedFor(req.instanceId);
      return {
        outcome: 'already-absent',
        warnings: [...warnings, ...markedElsewhereWarnings(req.databaseName, req.instanceId, elsewhere)],
      };
    }
    if (existing.ownerInstanceId !== req.instanceId && req.ownsNothing) return { outcome: 'left-unmanaged', warnings };
    assertOwned(existing, req.instanceId, 'drop');
    await this.step('drop.before');
    warnings.push(...(await this.delete(req.instanceId, req.databaseName)));
    return { outcome: 'dropped', warnings };
  }

  isTransient(err: unknown): boolean {
    if (err instanceof CommandRetryError) return true;
    if (err instanceof PermanentJobError) return false;
    return this.options.inspector.isTransient(err);
  }

  async close(): Promise<void> {
    await this.options.inspector.close();
  }

  private async delete(instanceId: string, databaseName: string): Promise<string[]> {
    const run = await this.run({ operation: 'delete', instanceId, databaseName });
    if (await this.options.inspector.describe(databaseName))
      throw disagrees(run, `the server still shows database "${databaseName}"`);
    return stderrWarning(run);
  }

  /** Runs the command once; returns only when it exited 0, else throws with its exit code and output. */
  private async run(call: Invocation): Promise<CommandRun> {
    const { settings, log } = this.options;
    const argv = commandArguments(settings.args, call);
    const context = { operation: call.operation, instanceId: call.instanceId };
    await this.step(`${call.operation}.command`);
    const run = await runCommand(settings, argv, (pid) =>
      log.info('external command started', {
        event: 'command.started',
        ...context,
        pid,
        // Fixed arguments may carry a secret: shown as the output is, masked.
        commandLine: redactOutput(renderCommandLine(settings.path, argv), settings.secrets),
      }),
    );
    const ended = {
      event: 'command.finished',
      ...context,
      pid: run.pid,
      exitCode: run.exitCode,
      signal: run.signal,
      timedOut: run.timedOut,
      durationMs: run.durationMs,
      stdout: run.stdout,
      stderr: run.stderr,
    };
    if (run.exitCode === 0 && !run.timedOut) {
      log.info('external command succeeded', ended);
      return run;
    }
    log.warn('external command failed', ended);
    const seconds = (run.durationMs / 1000).toFixed(1);
    if (run.timedOut) {
      const message = `the command (${call.operation}) did not finish within ${settings.timeoutMs} ms and was ended with its process group${outputTail(run)}`;
      throw settings.timeoutIsTransient ? new CommandRetryError(message) : new PermanentJobError(message);
    }
    if (run.exitCode !== null && settings.retryExitCodes.includes(run.exitCode))
      throw new CommandRetryError(
        `the command (${call.operation}) asked to be retried (exit code ${run.exitCode}) after ${seconds} s${outputTail(run)}`,
      );
    const how = run.exitCode === null ? `was ended by ${run.signal}` : `exited with code ${run.exitCode}`;
    throw new PermanentJobError(`the command (${call.operation}) ${how} after ${seconds} s${outputTail(run)}`);
  }

  private checkNames(...names: string[]): void {
    for (const name of names) {
      const problems = this.options.names.validate(name, new Set());
      if (problems.length)
        throw new PermanentJobError(`database name "${name}" is refused by the verify engine: ${problems.join('; ')}`);
    }
  }

  private async step(name: string): Promise<void> {
    await this.options.onStep?.(name);
  }
}

function assertOwned(db: DatabaseDescription, instanceId: string, action: string): void {
  assertOwnedBy(db, instanceId, action, { suffix: ' (the command was not run)' });
}

/** The command said it succeeded; the server says otherwise. */
function disagrees(run: CommandRun, what: string): PermanentJobError {
  return new PermanentJobError(`the command exited 0, but ${what}${outputTail(run)}`);
}

/** The end of what the command printed, for an error message: stderr, else stdout. */
function outputTail(run: CommandRun): string {
  if (run.stderr.trim()) return `; stderr: ${lastLines(run.stderr, MESSAGE_TAIL_CHARS)}`;
  if (run.stdout.trim()) return `; stdout: ${lastLines(run.stdout, MESSAGE_TAIL_CHARS)}`;
  return '; it printed nothing';
}

/** A command that succeeded but wrote to stderr: worth an operator's look (stdout is in the worker's log). */
function stderrWarning(run: CommandRun): string[] {
  return run.stderr.trim() ? [`the command wrote to stderr: ${lastLines(run.stderr, WARNING_TAIL_CHARS)}`] : [];
}
