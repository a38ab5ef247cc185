import { readdirSync, readFileSync } from 'node:fs';
import { isRole, type Role } from './roles';

/**
 * The image's HEALTHCHECK: `node dist/shared/healthcheck.js [api|worker]`, exit 0 when healthy.
 * The API is asked its /health/ready on PORT; a worker its metrics listener's /health/live on
 * METRICS_PORT. Without an argument the role is that of the container's entry point process
 * (found in /proc), so one HEALTHCHECK line serves both roles.
 */
const TIMEOUT_MS = 4000;

/** The role argument of a running `entrypoint.js` (the container's only one), else null. */
function runningRole(): Role | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // ended meanwhile
    }
    const at = args.findIndex((a) => a.endsWith('/entrypoint.js') || a === 'entrypoint.js');
    if (at < 0) continue;
    const role = args[at + 1] || 'api';
    return isRole(role) ? role : null;
  }
  return null;
}

/** Where to reach a listener bound to `host` from inside the container. */
function loopback(host: string | undefined): string {
  return !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

export function healthUrl(role: Role, env: NodeJS.ProcessEnv): string | null {
  if (role === 'api') return `http://${loopback(env.HOST)}:${env.PORT || '3000'}/health/ready`;
  return env.METRICS_PORT ? `http://${loopback(env.METRICS_HOST)}:${env.METRICS_PORT}/health/live` : null;
}

async function main(): Promise<void> {
  const role = process.argv[2] ?? runningRole() ?? 'api';
  if (!isRole(role)) {
    console.error(`unknown role ${JSON.stringify(role)}`);
    process.exit(2);
  }
  const url = healthUrl(role, process.env);
  if (!url) {
    console.error('METRICS_PORT is not set: the worker has no health listener to ask');
    process.exit(1);
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    console.log(`${role} ${url}: ${res.status}`);
    process.exit(res.ok ? 0 : 1);
  } catch (err) {
    console.error(`${role} ${url}: ${(err as Error).message}`);
    process.exit(1);
  }
}

if (require.main === module) void main();
