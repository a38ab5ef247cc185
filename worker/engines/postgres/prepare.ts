import { ConfigurationError } from '../../../shared/errors';
import type { RetryPolicy } from '../../../shared/retry';
import { ensureStandInTemplate, QUICKSTART_SCALE } from '../../templates/stand-in';
import type { PrepareContext } from '../module';
import { inspectRole, judgeRole, refusalHeading } from './role-check';

/**
 * Before the worker takes jobs: builds the quickstart's stand-in template when asked for
 * (ODS_TEMPLATE_STANDIN), then checks that the login can do what the operations need. A
 * login that could not create a single instance stops the worker, with every missing grant
 * listed; one that lacks only pg_signal_backend starts, with a warning of what will fail.
 */
export async function preparePostgres(context: PrepareContext<unknown>, waitPolicy?: RetryPolicy): Promise<void> {
  const { serverUrl, templateDatabase, log } = context;
  let found = await inspectRole(serverUrl, templateDatabase, log, waitPolicy);
  // The stand-in is built by the login itself, so it owns it and may copy it; without CREATEDB
  // it cannot be built, and the check below says so.
  if (context.createStandInTemplate && !found.template.exists && (found.superuser || found.createdb)) {
    await ensureStandInTemplate(serverUrl, templateDatabase, QUICKSTART_SCALE, log);
    found = await inspectRole(serverUrl, templateDatabase, log, waitPolicy);
  }
  const verdict = judgeRole(found, { standInRequested: context.createStandInTemplate });
  log.info('checked what the ODS server login can do', {
    event: 'ods_server.role_capabilities',
    role: found.role,
    serverVersion: found.serverVersion,
    capabilities: verdict.capabilities,
    template: found.template.name,
    templateOwner: found.template.owner,
  });
  if (verdict.problems.length)
    throw new ConfigurationError(
      [...verdict.problems, ...verdict.warnings.map((w) => `also (not needed to start): ${w.message}`)],
      refusalHeading(found),
    );
  for (const { missing, message } of verdict.warnings)
    log.warn(message, { event: 'ods_server.role_check', role: found.role, missing });
}
