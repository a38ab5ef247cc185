import 'reflect-metadata';
import { loadApiConfig, loadWorkerConfig, workerSecretProblems } from './config';
import { ConfigurationError, errorMessage } from './errors';
import { loadRegistrationSettings } from '../worker/edfi-admin/settings';
import { isRole, type Role } from './roles';

/**
 * The container image's entry point: `node dist/shared/entrypoint.js [api|worker]` (default `api`).
 * It checks the role's configuration with the processes' own loaders, then runs the role in this
 * same process (no shell, no child: signals reach the role's own shutdown handler). Problems name
 * settings, never their values.
 */

/** What stops `role` from starting with `env`; empty when it may start. */
export function roleProblems(role: Role, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const collect = (load: () => unknown) => {
    try {
      load();
    } catch (err) {
      if (err instanceof ConfigurationError) problems.push(...err.problems);
      else problems.push(errorMessage(err));
    }
  };
  if (role === 'api') {
    // Whatever NODE_ENV says (loadApiConfig refuses them in production only): an API container
    // never holds the worker's secrets.
    problems.push(...workerSecretProblems(env));
    collect(() => loadApiConfig(env));
  } else {
    // loadWorkerConfig's default (the local PostgreSQL) serves `npm start`; a production worker names its server.
    if (env.NODE_ENV === 'production' && !env.ODS_SERVER_URL?.trim())
      problems.push('ODS_SERVER_URL is required when NODE_ENV=production (the ODS server the worker manages)');
    collect(() => loadWorkerConfig(env));
    collect(() => loadRegistrationSettings(env));
  }
  return [...new Set(problems)];
}

async function main(argv: string[]): Promise<void> {
  const role = argv[0] ?? 'api';
  if (argv.length > 1 || !isRole(role)) {
    console.error(`unknown role ${JSON.stringify(argv.join(' '))}: the image runs "api" (the default) or "worker"`);
    process.exit(2);
  }
  const problems = roleProblems(role, process.env);
  if (problems.length) {
    console.error(`${role}: refusing to start:\n  - ${problems.join('\n  - ')}`);
    process.exit(1);
  }
  // Each main module starts its process when loaded.
  if (role === 'api') await import('../api/main');
  else await import('../worker/main');
}

if (require.main === module) void main(process.argv.slice(2));
