import type { Logger } from '../shared/logger';
import { sleep } from '../shared/retry';

/**
 * For fault tests only: ODSIM_FAULT_PAUSE_AT=step[,step] with ODSIM_FAULT_PAUSE_MS makes the
 * driver wait at those steps, so a test can kill the worker at a known point of an operation.
 * Unset (as in any real deployment), it does nothing.
 */
export function faultInjectionFromEnv(
  env: NodeJS.ProcessEnv,
  log: Logger,
): ((step: string) => Promise<void>) | undefined {
  const steps = new Set(
    (env.ODSIM_FAULT_PAUSE_AT ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  if (!steps.size) return undefined;
  const pauseMs = Number(env.ODSIM_FAULT_PAUSE_MS ?? 10_000);
  log.warn('fault injection is on: the driver pauses at steps', { event: 'fault.enabled', steps: [...steps], pauseMs });
  return async (step) => {
    if (!steps.has(step)) return;
    log.warn('paused at step', { event: 'fault.paused', step });
    await sleep(pauseMs);
  };
}
