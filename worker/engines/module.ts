import type { Logger } from '../../shared/logger';
import type { NameRules } from '../../shared/database-names/rules';
import type { EngineDriver, ServerInspector } from './engine';

/** One statement the worker would send, in order, and why. */
export interface PlannedStatement {
  purpose: string;
  sql: string;
  /** The condition it runs under, when not always (a server version, what an earlier look found). */
  when?: string;
  /** The database its session is connected to, when not the server URL's own (a maintenance database). */
  database?: string;
  /** A program run rather than SQL sent (the external command engine): its exact arguments; `sql` shows them quoted. */
  argv?: string[];
  /**
   * The server versions (major) it is sent to, when that is part of `when`: from `from` on, below
   * `before`. The same condition in numbers, so a tool (or a test) can pick a server's statements.
   */
  serverVersions?: { from?: number; before?: number };
}

/** Whether a planned statement is sent to a server of this major version (its `serverVersions`, if any). */
export function runsOn(statement: PlannedStatement, major: number): boolean {
  const range = statement.serverVersions;
  return (
    !range ||
    ((range.from === undefined || major >= range.from) && (range.before === undefined || major < range.before))
  );
}

export type PlanRequest =
  | {
      operation: 'create';
      instanceId: string;
      databaseName: string;
      /** The deployment's template, or a copy's source database. */
      templateDatabase: string;
      stagingName: string;
      /** A copy of another instance's database (docs/copy.md): templateDatabase is its database. */
      copy?: { sourceInstanceId: string; disconnectSource: boolean };
    }
  | { operation: 'rename'; instanceId: string; from: string; to: string }
  | {
      operation: 'delete';
      instanceId: string;
      databaseName: string;
      /** Staging names of the instance's create jobs (each is looked for first); unknown: one generic look. */
      stagingNames?: string[];
    }
  | { operation: 'adopt'; instanceId: string; databaseName: string }
  | { operation: 'release'; instanceId: string; databaseName: string };

/**
 * What an operation will run, built from the same statement builders the driver uses, so a DBA
 * can review it before granting anything. Looks (catalog queries) come first; the statements
 * that change the server follow.
 */
export interface OperationPlan {
  engine: string;
  operation: PlanRequest['operation'];
  /** The copy strategy (create only), as configured. */
  strategy: string | null;
  statements: PlannedStatement[];
  /** What the worker's login needs for this operation on this engine. */
  privileges: string[];
  notes: string[];
}

export interface DriverContext<S> {
  serverUrl: string;
  settings: S;
  lockTimeoutMs: number;
  poolSize: number;
  log: Logger;
  /** Called between the steps of each operation; fault-injection tests pause or crash here. */
  onStep?: (step: string) => Promise<void>;
  /** Called as a long copy (a restore, an Azure copy) advances; the driver also logs each report as an event. */
  onProgress?: (percent: number, message: string) => void;
}

/** What the engine's settings parser returns: the settings, or every problem with them (naming the variable). */
export interface ParsedSettings<S> {
  settings: S;
  problems: string[];
}

/**
 * Everything the product knows of one engine, in its folder under worker/engines/. The
 * registry lists one of these per engine; nothing else names an engine. The name rules, URL
 * check, settings and plans are pure (the API uses them); only `createDriver` connects.
 */
export interface EngineModule<S = unknown> {
  readonly name: string;
  /** For people: "PostgreSQL 11+ (and RDS, Azure, Cloud SQL)". */
  readonly label: string;
  readonly names: NameRules;
  /** Problems with ODS_SERVER_URL as a connection to this engine's server (without revealing it). */
  serverUrlProblems(url: string): string[];
  /** The engine's own environment variables (ODS_PG_*, ODS_MSSQL_*…). */
  parseSettings(env: NodeJS.ProcessEnv): ParsedSettings<S>;
  plan(request: PlanRequest, settings: S): OperationPlan;
  createDriver(context: DriverContext<S>): EngineDriver;
  /** How another engine (the external command) checks this engine's server, when this engine offers it. */
  inspection?: Inspection<S>;
  /**
   * Runs once when a worker starts, before it takes jobs: checks the login can do what the
   * operations need (saying what is missing), and prepares what the quickstart needs.
   */
  prepare?(context: PrepareContext<S>): Promise<void>;
  /** The copy strategies a template may choose (ODS_TEMPLATES' `strategy`), and how the choice joins the settings. */
  templateStrategies?: {
    choices: readonly string[];
    /** `byDatabase`: template database (lower case) → strategy, already checked against `choices`. */
    apply(settings: S, byDatabase: Record<string, string>): S;
  };
}

/** What an engine's start-up hook is given. */
export interface PrepareContext<S> {
  serverUrl: string;
  settings: S;
  templateDatabase: string;
  /** ODS_TEMPLATE_STANDIN: build the quickstart's labelled stand-in template if the template is missing. */
  createStandInTemplate: boolean;
  log: Logger;
}

/** Looks at and marks databases on this engine's server for work another engine did (worker/engines/command/). */
export interface Inspection<S> {
  createInspector(context: DriverContext<S>): ServerInspector;
  /** The statements the inspector sends, for plans: in the same order and text as it sends them. */
  describe(name: string): PlannedStatement[];
  markedElsewhere(instanceId: string): PlannedStatement[];
  markOwner(name: string, instanceId: string): PlannedStatement[];
  clearOwner(name: string): PlannedStatement[];
  assertWritable(name: string): PlannedStatement[];
}
