import { AsyncLocalStorage } from 'node:async_hooks';

/** Where the job that is running in this async context sends progress (its BullMQ job, its log). */
export type ProgressReporter = (percent: number, message: string) => void;

const current = new AsyncLocalStorage<ProgressReporter>();

/**
 * Runs `work` with `reporter` as the destination of every progress report made inside it. A
 * driver serves all the worker's jobs at once, so its reports find their job this way rather
 * than through a callback threaded into every request.
 */
export function withProgressReporter<T>(reporter: ProgressReporter, work: () => Promise<T>): Promise<T> {
  return current.run(reporter, work);
}

/** Sends a report to the running job, if any (engines call this through DriverContext.onProgress). */
export function reportProgress(percent: number, message: string): void {
  current.getStore()?.(percent, message);
}
