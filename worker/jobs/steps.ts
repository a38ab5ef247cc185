import { AsyncLocalStorage } from 'node:async_hooks';

/** Told of each named step a driver reaches (`create.cloning`, `create.cloned`…) while it works for one job. */
export type StepObserver = (step: string) => void;

const current = new AsyncLocalStorage<StepObserver>();

/** Runs `work` with `observer` told of the steps reached inside it (a driver serves many jobs at once, as with progress). */
export function withStepObserver<T>(observer: StepObserver, work: () => Promise<T>): Promise<T> {
  return current.run(observer, work);
}

/** Tells the running job's observer, if any, that the driver reached `step`. */
export function observeStep(step: string): void {
  current.getStore()?.(step);
}
