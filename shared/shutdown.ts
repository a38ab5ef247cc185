import type { Logger } from './logger';
import { errorMessage } from './errors';

/**
 * How long a process may take to stop on SIGTERM before it exits anyway. Orchestrators must wait
 * longer than this before their SIGKILL (docker-compose.yml stop_grace_period, Kubernetes
 * terminationGracePeriodSeconds in deploy/kubernetes: checked by the deployment tests).
 */
export const SHUTDOWN_GRACE_MS = 30_000;

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. A second signal, or a stop that takes
 * longer than `graceMs`, exits at once (the job in hand is then resumed by another worker).
 */
export function onShutdownSignal(log: Logger, stop: () => Promise<void>, graceMs = SHUTDOWN_GRACE_MS): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info('shutting down', { event: 'process.stopping', signal });
    const timer = setTimeout(() => {
      log.warn('shutdown took too long; exiting', { event: 'process.stop_timeout' });
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => {
        log.info('stopped', { event: 'process.stopped' });
        process.exit(0);
      },
      (err) => {
        log.error('error while stopping', {
          event: 'process.stop_failed',
          error: errorMessage(err),
        });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
