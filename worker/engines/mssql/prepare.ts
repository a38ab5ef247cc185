import sql from 'mssql';
import type { Logger } from '../../../shared/logger';
import { STRATEGY_PRIVILEGES } from './plan';
import { MssqlSettings, MssqlStrategy, parseMssqlUrl, strategyFor } from './settings';
import * as statements from './statements';

interface LoginPermissions {
  create_any_database: number | null;
  sysadmin: number | null;
  dbcreator: number | null;
  backup_template: number | null;
  view_server_state: number | null;
}

/** What the login lacks for `strategy`, in the words of the privilege it needs; empty when nothing. */
export function missingPrivileges(strategy: MssqlStrategy, p: LoginPermissions, rdsRestore: boolean): string[] {
  const missing: string[] = [];
  const sysadmin = p.sysadmin === 1;
  const [createPrivilege, backupPrivilege] = STRATEGY_PRIVILEGES[strategy];
  switch (strategy) {
    case 'backup-restore':
      if (!sysadmin && p.create_any_database !== 1 && p.dbcreator !== 1) missing.push(createPrivilege!);
      if (!sysadmin && p.backup_template !== 1) missing.push(backupPrivilege!);
      break;
    case 'restore-file':
      if (!sysadmin && p.create_any_database !== 1 && p.dbcreator !== 1) missing.push(createPrivilege!);
      break;
    case 'clonedatabase':
      if (!sysadmin) missing.push(createPrivilege!);
      break;
    case 'rds-restore':
      if (!rdsRestore) missing.push(createPrivilege!);
      break;
    case 'azure-copy':
      // Azure SQL Database has no server roles to ask; its first copy says what is missing.
      break;
  }
  return missing;
}

/**
 * At worker start: says what the login lacks for the configured strategies, before any job
 * finds out. Azure SQL Database is not asked (its permissions live in master's roles).
 */
export async function prepareMssql(context: {
  serverUrl: string;
  settings: MssqlSettings;
  templateDatabase: string;
  createStandInTemplate: boolean;
  log: Logger;
}): Promise<void> {
  if (context.createStandInTemplate)
    throw new Error(
      'ODS_TEMPLATE_STANDIN: the stand-in template is made on PostgreSQL only; on SQL Server, restore an Ed-Fi template .bak (docs/engines/sqlserver.md)',
    );
  const strategies = new Set<MssqlStrategy>([
    strategyFor(context.settings, context.templateDatabase),
    ...Object.values(context.settings.templateStrategies),
  ]);
  if (strategies.has('azure-copy')) return;
  const { config } = parseMssqlUrl(context.serverUrl);
  const pool = new sql.ConnectionPool({ ...config, pool: { max: 1, min: 0 } });
  pool.on('error', () => undefined);
  await pool.connect();
  try {
    const permissions = (
      await pool
        .request()
        .input('template', sql.NVarChar(128), context.templateDatabase)
        .query<LoginPermissions>(statements.LOGIN_PERMISSIONS)
    ).recordset[0]!;
    const rds = strategies.has('rds-restore')
      ? (await pool.request().query<{ allowed: number | null }>(statements.RDS_RESTORE_PERMISSION)).recordset[0]
          ?.allowed === 1
      : false;
    const missing = [...strategies].flatMap((s) => missingPrivileges(s, permissions, rds).map((m) => `${s}: ${m}`));
    if (missing.length)
      throw new Error(`the ODS server login lacks what the configured strategy needs:\n  - ${missing.join('\n  - ')}`);
    if (permissions.view_server_state !== 1)
      context.log.warn('restore progress will not be reported: the login lacks VIEW SERVER STATE', {
        event: 'ods_server.no_progress',
      });
  } finally {
    await pool.close().catch(() => undefined);
  }
}
