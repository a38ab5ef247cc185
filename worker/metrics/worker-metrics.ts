import { Counter, Histogram, Registry } from 'prom-client';
import { PermanentJobError } from '../../shared/errors';
import { OPERATIONS, type Operation } from '../../shared/instances/status';

/** How an error met by an operation is classed: the driver's isTransient, or the manager's own refusal. */
export const ERROR_CLASSES = ['transient', 'permanent', 'refused'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/**
 * `transient`: the engine's driver (or EdFi_Admin's) says retrying may help (a lost connection, a
 * lock, a template in use); `refused`: a PermanentJobError, the manager's own reasoned refusal (a
 * database not ours, a missing template); `permanent`: any other error, which fails the job at once.
 */
export function errorClass(err: unknown, isTransient: (err: unknown) => boolean): ErrorClass {
  if (err instanceof PermanentJobError) return 'refused';
  return isTransient(err) ? 'transient' : 'permanent';
}

/** The steps a driver reports around the clone itself (worker/engines/*: create.cloning … create.cloned). */
const CLONE_STARTED = 'create.cloning';
const CLONE_ENDED = 'create.cloned';

/** One run of a job as the metrics see it (from its claim to its recorded end). */
export interface JobRunMetrics {
  /** Told of each driver step (worker/jobs/steps.ts): times the clone. */
  readonly step: (step: string) => void;
  /** An error met by the operation, by class (each try of a retried error counts). */
  readonly error: (err: unknown) => void;
  /** A transient error: the operation is tried again within this run. */
  readonly retried: () => void;
  /** The run recorded the job's end. */
  readonly ended: (outcome: 'succeeded' | 'failed') => void;
}

/**
 * A worker's own metrics (served on METRICS_PORT with Node's default metrics): what its jobs did,
 * how long they and their clones took, the errors they met, its reconciler and inventory runs.
 * One registry per worker, so that several in one process (the tests) never collide.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly jobs = new Counter({
    name: 'odsim_jobs_total',
    help: 'Job runs by type (create, delete, rename, release) and outcome: succeeded and failed end the job; retried counts each transient error tried again within a run.',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly jobDuration = new Histogram({
    name: 'odsim_job_duration_seconds',
    help: "Seconds from a job run's claim to its recorded end, by type and outcome (succeeded, failed).",
    labelNames: ['type', 'outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  private readonly copyDuration = new Histogram({
    name: 'odsim_copy_duration_seconds',
    help: 'Seconds the clone of a template or source database took (the driver steps create.cloning to create.cloned), by engine.',
    labelNames: ['engine'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'odsim_database_server_errors_total',
    help: 'Errors met by job operations on the database server (and EdFi_Admin), by engine and class: transient (retried), permanent, refused (a PermanentJobError).',
    labelNames: ['engine', 'class'] as const,
    registers: [this.registry],
  });
  private readonly reenqueued = new Counter({
    name: 'odsim_reconciler_reenqueued_total',
    help: 'Unfinished jobs the reconciler put back on the queue because Redis had no live delivery for them.',
    registers: [this.registry],
  });
  private readonly inventoryRuns = new Counter({
    name: 'odsim_inventory_runs_total',
    help: 'Inventory runs this worker took, by outcome (succeeded, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(readonly engine: string) {
    // Every series present from the start, so that increase() sees the first job.
    for (const type of OPERATIONS)
      for (const outcome of ['succeeded', 'failed', 'retried']) {
        this.jobs.inc({ type, outcome }, 0);
        if (outcome !== 'retried') this.jobDuration.zero({ type, outcome });
      }
    this.copyDuration.zero({ engine });
    for (const cls of ERROR_CLASSES) this.errors.inc({ engine, class: cls }, 0);
    for (const outcome of ['succeeded', 'failed']) this.inventoryRuns.inc({ outcome }, 0);
  }

  /** Starts timing one run of a job; `isTransient` classes its errors as the processor retries them. */
  jobRun(type: Operation, isTransient: (err: unknown) => boolean): JobRunMetrics {
    const endRun = this.jobDuration.startTimer({ type });
    let endClone: (() => number) | undefined;
    return {
      step: (step) => {
        if (step === CLONE_STARTED) endClone = this.copyDuration.startTimer({ engine: this.engine });
        else if (step === CLONE_ENDED && endClone) {
          endClone();
          endClone = undefined;
        }
      },
      error: (err) => this.errors.inc({ engine: this.engine, class: errorClass(err, isTransient) }),
      retried: () => this.jobs.inc({ type, outcome: 'retried' }),
      ended: (outcome) => {
        endRun({ outcome });
        this.jobs.inc({ type, outcome });
      },
    };
  }

  reconcilerReenqueued(): void {
    this.reenqueued.inc();
  }

  inventoryRun(outcome: 'succeeded' | 'failed'): void {
    this.inventoryRuns.inc({ outcome });
  }
}
