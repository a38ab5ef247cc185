import { spawn } from 'node:child_process';
import { PermanentJobError } from '../../../shared/errors';
import type { CommandSettings } from './settings';
import { OutputTail, redactOutput } from './output';

/** How one run of the command ended, its output redacted. */
export interface CommandRun {
  /** The arguments after the executable, as passed. */
  argv: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  pid: number | undefined;
  stdout: string;
  stderr: string;
}

/** After the command exits, how long its output may stay open (a background child holding it) before it is cut. */
const OUTPUT_DRAIN_MS = 2_000;

/**
 * Runs the executable with `argv` as separate arguments, never through a shell, with only the
 * configured environment. At the timeout its whole process group gets SIGTERM, then SIGKILL
 * after the grace period: a script's own children (psql, az, sqlcmd) go with it.
 */
export function runCommand(
  settings: Pick<CommandSettings, 'path' | 'timeoutMs' | 'killGraceMs' | 'environment' | 'secrets'>,
  argv: string[],
  onStart?: (pid: number | undefined) => void,
): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const stdout = new OutputTail();
    const stderr = new OutputTail();
    const child = spawn(settings.path, argv, {
      shell: false,
      // Its own process group, so that the timeout ends the script's children too.
      detached: true,
      env: settings.environment,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timedOut = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const signalGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    timers.push(
      setTimeout(() => {
        timedOut = true;
        signalGroup('SIGTERM');
        timers.push(setTimeout(() => signalGroup('SIGKILL'), settings.killGraceMs));
      }, settings.timeoutMs),
    );
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      if (timedOut) signalGroup('SIGKILL');
      resolve({
        argv,
        exitCode,
        signal,
        timedOut,
        durationMs: Date.now() - started,
        pid: child.pid,
        stdout: redactOutput(stdout.text(), settings.secrets),
        stderr: redactOutput(stderr.text(), settings.secrets),
      });
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      reject(new PermanentJobError(`the command ${settings.path} could not be started: ${err.code ?? err.message}`));
    });
    child.on('spawn', () => onStart?.(child.pid));
    child.on('close', (code, signal) => finish(code, signal));
    child.on('exit', (code, signal) => {
      // 'close' waits for the output to end; a process the script left running may hold it open.
      const drain = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, OUTPUT_DRAIN_MS);
      drain.unref();
      timers.push(drain);
    });
  });
}
