import { appendFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What every benchmark script reads its settings and reports its progress with. */

/** A setting from the environment: a positive integer, or the fallback when unset. */
export function positiveInt(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return n;
}

/** Progress goes to stderr, so stdout carries only the markdown of the results. */
export const progress = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The machine a run measured, as one markdown line: date (UTC), CPU count, Node.js and the
 * PostgreSQL server's version (`serverVersion`: what `SHOW server_version` answered).
 */
export function machineLine(serverVersion: string, at = new Date()): string {
  const date = at
    .toISOString()
    .replace('T', ' ')
    .replace(/:\d\d\.\d+Z$/, ' UTC');
  return `Run of ${date}: ${os.cpus().length} CPUs, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at the start, Node.js ${process.version}, PostgreSQL ${serverVersion}.`;
}

/**
 * Appends a run's results to docs/benchmarks.md under `heading` (a `###` line is made of it),
 * and prints them: every benchmark keeps its dated figures there, newest last.
 */
export function appendResults(heading: string, markdown: string): void {
  const text = `\n### ${heading}\n\n${markdown.trim()}\n`;
  process.stdout.write(text);
  appendFileSync(path.resolve(__dirname, '../../docs/benchmarks.md'), text);
}

/** Percentile (0–100) of samples, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Linux /proc/stat: idle (with iowait) and total CPU ticks over all CPUs; undefined elsewhere. */
export function cpuTicks(): { idle: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const [, , , idle, iowait] = fields;
    if (idle === undefined || iowait === undefined) return undefined;
    return { idle: idle + iowait, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/** Runs a benchmark's main: exit 0 when it ends, 1 with the stack on stderr when it fails. */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** The share of CPU time that was idle between two readings of cpuTicks() (NaN without /proc/stat). */
export function idleShare(before = cpuTicks(), after = cpuTicks()): number {
  return before && after && after.total > before.total
    ? (after.idle - before.idle) / (after.total - before.total)
    : NaN;
}

/** Set by the first SIGINT or SIGTERM once interruptible() ran: a benchmark stops at its next step and cleans up. */
export const stopRequest = { interrupted: false };

/** The first SIGINT/SIGTERM asks the run to stop at its next step and clean up; a second quits at once. */
export function interruptible(): void {
  const onSignal = () => {
    if (stopRequest.interrupted) process.exit(130);
    stopRequest.interrupted = true;
    progress('interrupted: finishing the current step and cleaning up (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** BENCH_QUIET_IDLE and BENCH_QUIET_TIMEOUT_S, with each benchmark's own defaults. */
export interface QuietGate {
  /** The share of CPU time that must be idle (0–1). */
  idle: number;
  /** How long to wait at most; 0 turns the wait off. */
  timeoutS: number;
}

export function quietGate(defaults: QuietGate): QuietGate {
  return {
    idle: Number(process.env.BENCH_QUIET_IDLE ?? defaults.idle),
    timeoutS: Number(process.env.BENCH_QUIET_TIMEOUT_S ?? defaults.timeoutS),
  };
}

/**
 * Waits until the CPUs have been at least `gate.idle` idle for three 500 ms windows in a row, so
 * that other work on a shared machine does not decide a sample. True when quiet (or the gate is
 * off, or the run was interrupted); false on timeout: the caller counts the sample as noisy.
 */
export async function waitForQuiet(gate: QuietGate): Promise<boolean> {
  if (!(gate.timeoutS > 0) || !cpuTicks()) return true;
  const started = Date.now();
  const deadline = started + gate.timeoutS * 1000;
  let calm = 0;
  let announced = false;
  while (Date.now() < deadline && !stopRequest.interrupted) {
    const before = cpuTicks();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = idleShare(before);
    calm = idle >= gate.idle ? calm + 1 : 0;
    if (calm >= 3) return true;
    if (!announced && Date.now() - started > 5000) {
      progress(
        `  waiting for the machine to be quiet (CPU idle now ${(100 * idle).toFixed(0)}%; want ≥${(100 * gate.idle).toFixed(0)}% for 1.5 s)`,
      );
      announced = true;
    }
  }
  if (stopRequest.interrupted) return true;
  progress(`  machine still busy after ${gate.timeoutS} s: measuring anyway (counted as noisy)`);
  return false;
}
