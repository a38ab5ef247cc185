import { Client } from 'pg';
import { isConnectionFailure } from '../../../shared/database/postgres-errors';
import { errorMessage } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { retryTransient, RetryPolicy } from '../../../shared/retry';

/**
 * The start-up check of the worker's login on the ODS server. Managed services (RDS, Azure
 * Database for PostgreSQL, Cloud SQL) give no superuser: the worker works with CREATEDB, the
 * ownership of what it creates, a template it may copy, and pg_signal_backend to end other
 * roles' sessions. The check says which of these the login has, and what grants the rest.
 */

/** The admin roles of the managed services; each carries pg_signal_backend. */
export const PROVIDER_ADMIN_ROLES = ['rds_superuser', 'azure_pg_admin', 'cloudsqlsuperuser'] as const;

export interface TemplateFindings {
  name: string;
  /** The name as SQL spells it (quote_ident), for the statements the check suggests. */
  nameSql: string;
  exists: boolean;
  /** datistemplate: any role with CREATEDB may copy it. */
  isTemplate: boolean;
  owner: string | null;
  /** The login has its owner's privileges (is the owner or a member of the owning role), so may copy it. */
  ownedByRole: boolean;
  /** CONNECT on the template (not needed to copy it; told for the record). */
  connect: boolean;
}

export interface RoleFindings {
  /** current_user, and as SQL spells it. */
  role: string;
  roleSql: string;
  superuser: boolean;
  createdb: boolean;
  /** Member of pg_signal_backend, directly or through another role (a provider's admin role). */
  signalBackend: boolean;
  /** The provider admin roles this server has (which service it is), and those the login is a member of. */
  providerRoles: string[];
  providerRolesHeld: string[];
  serverVersion: number;
  template: TemplateFindings;
}

export interface RoleVerdict {
  /** Each stops the worker from starting: it could not create a single instance. */
  problems: string[];
  /** Each leaves the worker able to start, with some operations failing in some situations. */
  /** What is missing that does not stop the worker, and what fails without it. */
  warnings: { missing: 'template' | 'pg_signal_backend'; message: string }[];
  /** What the login can do, for the start-up log. */
  capabilities: string[];
}

/** Reads only the catalogs (pg_roles, pg_database); changes nothing. */
const INSPECT = `
  SELECT current_user AS role, quote_ident(current_user) AS role_sql, r.rolsuper, r.rolcreatedb,
         pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS signal_backend,
         ARRAY(SELECT p.rolname::text FROM pg_roles p WHERE p.rolname = ANY($2::text[]) ORDER BY p.rolname) AS provider_roles,
         ARRAY(SELECT p.rolname::text FROM pg_roles p WHERE p.rolname = ANY($2::text[])
                 AND pg_has_role(current_user, p.oid, 'MEMBER') ORDER BY p.rolname) AS provider_roles_held,
         current_setting('server_version_num')::int AS server_version,
         quote_ident($1) AS template_sql, d.oid IS NOT NULL AS template_exists,
         coalesce(d.datistemplate, false) AS template_is_template,
         pg_get_userbyid(d.datdba) AS template_owner,
         coalesce(pg_has_role(current_user, d.datdba, 'USAGE'), false) AS template_owned,
         coalesce(has_database_privilege(d.oid, 'CONNECT'), false) AS template_connect
  FROM pg_roles r LEFT JOIN pg_database d ON d.datname = $1
  WHERE r.rolname = current_user`;

interface InspectRow {
  role: string;
  role_sql: string;
  rolsuper: boolean;
  rolcreatedb: boolean;
  signal_backend: boolean;
  provider_roles: string[];
  provider_roles_held: string[];
  server_version: number;
  template_sql: string;
  template_exists: boolean;
  template_is_template: boolean;
  template_owner: string | null;
  template_owned: boolean;
  template_connect: boolean;
}

/** Looks at the login and the template; waits for a server that is still starting, as the admin database does. */
export async function inspectRole(
  serverUrl: string,
  templateDatabase: string,
  log: Logger,
  waitPolicy: RetryPolicy = { attempts: 40, baseDelayMs: 500, maxDelayMs: 5000 },
): Promise<RoleFindings> {
  return retryTransient(
    async () => {
      const client = new Client({
        connectionString: serverUrl,
        connectionTimeoutMillis: 10_000,
        application_name: 'ods-instance-manager-worker',
      });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const { rows } = await client.query<InspectRow>(INSPECT, [templateDatabase, [...PROVIDER_ADMIN_ROLES]]);
        const row = rows[0];
        if (!row) throw new Error('the ODS server did not describe the current role (pg_roles)');
        return findingsOf(row, templateDatabase);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    {
      ...waitPolicy,
      isTransient: isConnectionFailure,
      onRetry: (err, attempt, delayMs) =>
        log.warn('ODS server not reachable yet; waiting', {
          event: 'ods_server.waiting',
          attempt,
          delayMs,
          error: errorMessage(err),
        }),
    },
  );
}

function findingsOf(row: InspectRow, templateDatabase: string): RoleFindings {
  return {
    role: row.role,
    roleSql: row.role_sql,
    superuser: row.rolsuper,
    createdb: row.rolcreatedb,
    signalBackend: row.signal_backend,
    providerRoles: row.provider_roles,
    providerRolesHeld: row.provider_roles_held,
    serverVersion: Number(row.server_version),
    template: {
      name: templateDatabase,
      nameSql: row.template_sql,
      exists: row.template_exists,
      isTemplate: row.template_is_template,
      owner: row.template_owner,
      ownedByRole: row.template_owned,
      connect: row.template_connect,
    },
  };
}

/** What the findings mean: what stops the worker, what will fail later, and what the login can do. */
export function judgeRole(found: RoleFindings, options: { standInRequested: boolean }): RoleVerdict {
  const { role, roleSql, template } = found;
  const problems: string[] = [];
  const warnings: RoleVerdict['warnings'] = [];
  const mayCreate = found.superuser || found.createdb;

  if (!mayCreate)
    problems.push(
      `role "${role}" lacks CREATEDB, so it can neither copy the template into a new database nor rename one. ` +
        `Grant it (as an administrator): ALTER ROLE ${roleSql} CREATEDB;`,
    );

  if (!template.exists) {
    const standIn = options.standInRequested
      ? ' (ODS_TEMPLATE_STANDIN builds a stand-in only for a login with CREATEDB)'
      : '';
    // Renames and deletes still work, and a template is often restored after the workers are deployed: warn, loudly.
    warnings.push({
      missing: 'template',
      message:
        `template database "${template.name}" (ODS_TEMPLATE_DATABASE) does not exist on the ODS server${standIn}: ` +
        `every create fails until it does (renames and deletes work). ` +
        `Restore the Ed-Fi template under that name, or set ODS_TEMPLATE_DATABASE to the name it has.`,
    });
  } else if (!found.superuser && !template.isTemplate && !template.ownedByRole) {
    problems.push(
      `template database "${template.name}" cannot be copied by role "${role}": it is not marked IS_TEMPLATE ` +
        `and is owned by "${template.owner}". Mark it (as its owner or an administrator): ` +
        `ALTER DATABASE ${template.nameSql} IS_TEMPLATE true; or make the worker's role its owner: ` +
        `ALTER DATABASE ${template.nameSql} OWNER TO ${roleSql};`,
    );
  }

  if (!found.signalBackend) {
    const viaProvider = found.providerRoles.length
      ? ` (or the provider's admin role, which includes it: GRANT ${found.providerRoles[0]} TO ${roleSql};)`
      : '';
    warnings.push({
      missing: 'pg_signal_backend',
      message:
        `role "${role}" is not a member of pg_signal_backend, so it cannot end other roles' sessions: renaming an ` +
        `instance and deleting one fail with a permission error (SQLSTATE 42501) while another role (the ODS/API's ` +
        `connection pools) is connected to its database; with no such session they work. ` +
        `Grant it (as an administrator): GRANT pg_signal_backend TO ${roleSql};${viaProvider}`,
    });
  }

  return { problems, warnings, capabilities: capabilitiesOf(found) };
}

function capabilitiesOf(found: RoleFindings): string[] {
  const { template } = found;
  return [
    ...(found.superuser ? ['SUPERUSER'] : []),
    ...(found.createdb ? ['CREATEDB'] : []),
    ...(found.signalBackend ? ['pg_signal_backend'] : []),
    ...found.providerRolesHeld.map((name) => `member of ${name}`),
    ...(template.exists && template.isTemplate ? [`template "${template.name}" is marked IS_TEMPLATE`] : []),
    ...(template.exists && template.ownedByRole ? [`owns template "${template.name}"`] : []),
    ...(template.exists && template.connect ? [`CONNECT on template "${template.name}"`] : []),
  ];
}

/** The heading of the refusal: whose login, on which server. */
export function refusalHeading(found: RoleFindings): string {
  return `The worker's login on the ODS server (role "${found.role}") cannot create instances`;
}
