import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ApiConfig, loadApiConfig } from '../shared/config';
import { stagingDatabaseName } from '../shared/database-names';
import { ValidationError } from '../shared/errors';
import type { PlanRequest } from '../worker/engines/module';
import { planOperation } from '../worker/engines/registry';
import { registrationNotes } from '../worker/edfi-admin/plan-notes';
import type { TemplateCatalog } from './templates/catalog';
import { DatabaseNamePolicy } from './instances/database-name-policy';
import { formatPlan } from './instances/plan';
import { createAdminDataSource, prepareAdminDatabase } from '../shared/database/data-source';
import { createLogger } from '../shared/logger';
import { ClientStore } from './auth/clients';
import { SCOPES } from './auth/scopes';
import { parseTenantIds } from '../shared/tenants';

const USAGE = `usage:
  npm run cli -- clients create --name NAME [--scope SCOPE] [--tenants A,B]   (SCOPE: ${SCOPES.fullAccess} | ${SCOPES.readOnly}; default read-only)
  npm run cli -- clients list
  npm run cli -- clients disable --client-id ID
  npm run cli -- clients tenants --client-id ID (--tenants A,B | --all-tenants)   (limit a client to some TENANTS, or lift the limit)
  npm run cli -- plan create --database NAME [--template TEMPLATE] [--json]
  npm run cli -- plan rename --from NAME --to NAME [--json]
  npm run cli -- plan delete --database NAME [--json]
  npm run cli -- plan adopt --database NAME [--json]
  npm run cli -- plan release --database NAME [--json]
      (the statements the worker would send for this engine and its settings (ODS_ENGINE, ODS_PG_*);
       needs neither the admin database nor the ODS server)`;

type PlanOptions = { database?: string; template?: string; from?: string; to?: string; json?: boolean };

/**
 * `plan`: what a worker with this environment would send, from the engine module's own statement
 * builders, for a DBA to review. Names are checked as the API checks them; ids are made up.
 */
function planCommand(action: string | undefined, values: PlanOptions, config: ApiConfig): number {
  const names = new DatabaseNamePolicy(config.ods.engine, {
    adminDatabaseUrl: config.adminDatabase.url,
    templates: config.ods.templates,
    reservedNames: config.ods.reservedNames,
  });
  const instanceId = randomUUID();
  let request: PlanRequest;
  if (action === 'create' && values.database) {
    names.assertAcceptable(values.database);
    request = {
      operation: 'create',
      instanceId,
      databaseName: values.database,
      templateDatabase: templateDatabaseOf(values.template, names.templates),
      stagingName: stagingDatabaseName(randomUUID()),
    };
  } else if (action === 'rename' && values.from && values.to) {
    names.assertAcceptable(values.to);
    request = { operation: 'rename', instanceId, from: values.from, to: values.to };
  } else if (action === 'delete' && values.database) {
    request = { operation: 'delete', instanceId, databaseName: values.database };
  } else if (action === 'adopt' && values.database) {
    names.assertAcceptable(values.database);
    request = { operation: 'adopt', instanceId, databaseName: values.database };
  } else if (action === 'release' && values.database) {
    request = { operation: 'release', instanceId, databaseName: values.database };
  } else {
    console.error(USAGE);
    return 2;
  }
  if (config.engineSettingsProblems.length) {
    console.error(
      `cannot plan: the ${config.ods.engine} engine's settings are incomplete:\n  - ${config.engineSettingsProblems.join('\n  - ')}`,
    );
    return 1;
  }
  const plan = planOperation(config.ods.engine, request, config.ods.engineSettings);
  // An adopt is a create job that marks instead of copying (its registration notes say so).
  const job = request.operation === 'adopt' ? 'create' : request.operation;
  const notes = [
    ...plan.notes,
    ...registrationNotes(job, { odsInstanceId: null }, { adopt: request.operation === 'adopt' }),
  ];
  const { engine, operation, strategy, statements, privileges } = plan;
  const shown = { engine, operation, strategy, statements, privileges, notes };
  console.log(values.json ? JSON.stringify({ request, ...shown }, null, 2) : formatPlan(shown));
  return 0;
}

/** --template: a configured template's name, or its database's (or, for a preview only, any database). */
function templateDatabaseOf(given: string | undefined, templates: TemplateCatalog): string {
  if (given === undefined) return templates.default.database;
  const wanted = given.toLowerCase();
  const found = templates.list.find((t) => t.name === wanted || t.database.toLowerCase() === wanted);
  return found ? found.database : given;
}

/** --tenants A,B checked against TENANTS, so a typo does not lock a client out of every tenant. */
function tenantsOption(value: string, configured: string[]): string[] {
  const tenants = parseTenantIds(value);
  const unknown = configured.length ? tenants.filter((t) => !configured.includes(t)) : [];
  if (unknown.length) throw new Error(`not in TENANTS (${configured.join(',')}): ${unknown.join(', ')}`);
  return tenants;
}

/** Administration from a shell on a machine that can reach the admin database. Prints JSON on stdout. */
async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scope: { type: 'string' },
      'client-id': { type: 'string' },
      tenants: { type: 'string' },
      'all-tenants': { type: 'boolean' },
      database: { type: 'string' },
      template: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const [area, action] = positionals;
  if (area === 'plan' && !values.help) {
    try {
      return planCommand(action, values, loadApiConfig());
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const problems = Object.values(err.errors).flat();
      console.error(problems.length ? problems.join('\n') : err.message);
      return 2;
    }
  }
  if (values.help || area !== 'clients' || !['create', 'list', 'disable', 'tenants'].includes(action ?? '')) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadApiConfig();
  const log = createLogger('cli', 'warn', process.stderr);
  const dataSource = createAdminDataSource(config.adminDatabase);
  await prepareAdminDatabase(dataSource, config.adminDatabase, log);
  const clients = new ClientStore(dataSource);
  try {
    if (action === 'create') {
      if (!values.name) {
        console.error(USAGE);
        return 2;
      }
      const tenants = values.tenants === undefined ? null : tenantsOption(values.tenants, config.tenants);
      const created = await clients.create(values.name, values.scope ?? SCOPES.readOnly);
      if (tenants) await clients.setTenants(created.client_id, tenants);
      console.log(
        JSON.stringify({
          client_id: created.client_id,
          client_secret: created.client_secret,
          scope: created.scope,
          ...(tenants ? { tenants } : {}),
        }),
      );
    } else if (action === 'list') {
      console.log(JSON.stringify(await clients.list()));
    } else if (action === 'tenants') {
      const id = values['client-id'];
      if (!id || (values.tenants === undefined) === !values['all-tenants']) {
        console.error(USAGE);
        return 2;
      }
      const tenants = values['all-tenants'] ? null : tenantsOption(values.tenants!, config.tenants);
      const changed = await clients.setTenants(id, tenants);
      console.log(JSON.stringify({ client_id: id, tenants, changed }));
      return changed ? 0 : 1;
    } else {
      const id = values['client-id'];
      if (!id) {
        console.error(USAGE);
        return 2;
      }
      const disabled = await clients.disable(id);
      console.log(JSON.stringify({ client_id: id, disabled }));
      return disabled ? 0 : 1;
    }
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
