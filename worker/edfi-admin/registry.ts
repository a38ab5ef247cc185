import { Pool, PoolClient } from 'pg';
import type { OdsInstanceContext } from '../../shared/database/entities/instance.entity';
import {
  isConnectionFailure,
  isSerializationFailure,
  SQLSTATE,
  errorCode,
} from '../../shared/database/postgres-errors';
import { errorMessage, PermanentJobError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { retryTransient } from '../../shared/retry';
import { decryptConnectionString, encryptConnectionString, looksEncrypted } from './connection-string-crypto';
import { databaseNameIn, EdFiAdminTarget, odsConnectionStringFor } from './settings';

/** Column limits of EdFi_Admin (ODS/API 7): longer values are refused before anything is written. */
const LIMITS = { name: 100, instanceType: 100, contextKey: 50, contextValue: 50 } as const;

/** The tables the worker reads and writes; all must exist (PostgreSQL folds the unquoted names to lower case). */
export const EDFI_ADMIN_TABLES = [
  'dbo.odsinstances',
  'dbo.odsinstancecontexts',
  'dbo.odsinstancederivatives',
  'dbo.apiclientodsinstances',
  'dbo.apiclients',
] as const;

/** EdFi_Admin is not fit to write to (tables missing, the key does not read its rows): the worker must not start. */
export class EdFiAdminStartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EdFiAdminStartupError';
  }
}

/** Someone else wrote the same (Name, InstanceType) at the same moment: looking again decides. */
class RegistryRaceError extends Error {}

export interface RegisterRequest {
  instanceId: string;
  name: string;
  instanceType: string | null;
  databaseName: string;
  contexts: readonly OdsInstanceContext[];
  apiClientKeys: readonly string[];
  /** dbo.OdsInstances.OdsInstanceId as recorded in the admin database, if any. */
  knownOdsInstanceId: number | null;
  /**
   * An adopted database, which may have been registered before by hand: any other row whose
   * connection string names it refuses the registration, so no database gets a second row.
   */
  adopting?: boolean;
}

export interface RepointRequest {
  instanceId: string;
  name: string;
  instanceType: string | null;
  from: string;
  to: string;
  knownOdsInstanceId: number | null;
}

export interface UnregisterRequest {
  instanceId: string;
  name: string;
  instanceType: string | null;
  databaseName: string;
  knownOdsInstanceId: number | null;
  /** Also remove ApiClientOdsInstances links and derivatives (the request said `force`). */
  force: boolean;
  /** What the job does with the database afterwards, for the refusal's words (a release keeps it). */
  operation?: 'delete' | 'release';
}

export interface RegistryResult {
  outcome: 'registered' | 'adopted' | 'repointed' | 'already-pointed' | 'not-registered' | 'unregistered';
  /** The row's id afterwards: null once removed or when there is none. */
  odsInstanceId: number | null;
  warnings: string[];
}

interface OdsInstanceRow {
  odsinstanceid: number;
  name: string;
  instancetype: string | null;
  connectionstring: string | null;
}

export interface RegistryOptions {
  log: Logger;
  onStep?: (step: string) => Promise<void>;
  poolSize?: number;
  lockTimeoutMs?: number;
}

/**
 * One EdFi_Admin database (one tenant's). Every change is one transaction on it, and each is
 * idempotent: it looks first, so a re-delivered job or a crash after commit ends in the same
 * rows as one clean run. SQL is parameterised everywhere; table names are constants.
 */
export class EdFiAdminRegistry {
  private readonly pool: Pool;

  constructor(
    readonly target: EdFiAdminTarget,
    private readonly options: RegistryOptions,
  ) {
    this.pool = new Pool({
      connectionString: target.databaseUrl,
      max: options.poolSize ?? 3,
      connectionTimeoutMillis: 10_000,
      query_timeout: 30_000,
      statement_timeout: 30_000,
      lock_timeout: options.lockTimeoutMs ?? 5_000,
      application_name: 'ods-instance-manager-worker',
    });
    this.pool.on('error', (err) =>
      options.log.warn('EdFi_Admin connection error', {
        event: 'edfi_admin.error',
        tenant: target.tenant,
        error: err.message,
      }),
    );
  }

  private get where(): string {
    return this.target.tenant ? `EdFi_Admin of tenant "${this.target.tenant}"` : 'EdFi_Admin';
  }

  /**
   * Start-up check: the tables exist, and the key reads the rows already there. A wrong key
   * would write rows the ODS/API cannot decrypt (it would then re-encrypt them as plain text).
   */
  async verify(): Promise<void> {
    const missing = await this.withClient(async (c) => {
      const r = await c.query<{ name: string; found: string | null }>(
        `SELECT name, to_regclass(name)::text AS found FROM unnest($1::text[]) AS name`,
        [[...EDFI_ADMIN_TABLES]],
      );
      return r.rows.filter((row) => !row.found).map((row) => row.name);
    });
    if (missing.length)
      throw new EdFiAdminStartupError(
        `${this.where}: tables missing: ${missing.join(', ')} (is the URL that of an ODS/API 7 EdFi_Admin database?); not starting`,
      );
    const rows = await this.withClient(
      async (c) =>
        (
          await c.query<{ connectionstring: string }>(
            `SELECT connectionstring FROM dbo.odsinstances WHERE connectionstring IS NOT NULL`,
          )
        ).rows,
    );
    const encrypted = rows.map((r) => r.connectionstring).filter(looksEncrypted);
    const readable = encrypted.filter((v) => decryptConnectionString(v, this.target.encryptionKey) !== null).length;
    if (encrypted.length && !readable)
      throw new EdFiAdminStartupError(
        `${this.where}: none of the ${encrypted.length} encrypted connection strings in dbo.OdsInstances decrypts with the configured encryption key; it is not the ODS/API's OdsConnectionStringEncryptionKey, and rows written with it could not be read by the ODS/API; not starting`,
      );
    if (readable < encrypted.length)
      this.options.log.warn('some EdFi_Admin connection strings do not decrypt with the configured key', {
        event: 'edfi_admin.unreadable_rows',
        tenant: this.target.tenant,
        unreadable: encrypted.length - readable,
        readable,
      });
  }

  /** Refuses, before any database is made, what register would refuse: unknown client keys, a name taken. */
  async preflight(req: RegisterRequest): Promise<void> {
    checkLimits(req);
    await this.withClient(async (c) => {
      await this.clientIds(c, req.apiClientKeys);
      const row = await this.findRow(c, req.knownOdsInstanceId, req.name, req.instanceType, false);
      if (row && req.knownOdsInstanceId !== row.odsinstanceid) this.assertPointsAt(row, [req.databaseName], req);
      if (req.adopting) await this.assertNoOtherRowFor(c, req.databaseName, row?.odsinstanceid ?? null);
    });
  }

  /** Inserts (or adopts, after a crash or a re-delivery) the OdsInstances row, its contexts and client links. */
  async register(req: RegisterRequest): Promise<RegistryResult> {
    checkLimits(req);
    const plain = odsConnectionStringFor(this.target.odsConnectionString, req.databaseName);
    await this.step('register.before');
    const result = await this.transaction(async (c) => {
      const clientIds = await this.clientIds(c, req.apiClientKeys);
      const warnings: string[] = [];
      let outcome: RegistryResult['outcome'] = 'adopted';
      let row = await this.findRow(c, req.knownOdsInstanceId, req.name, req.instanceType, true);
      if (req.adopting) await this.assertNoOtherRowFor(c, req.databaseName, row?.odsinstanceid ?? null);
      if (row) {
        if (row.odsinstanceid !== req.knownOdsInstanceId) this.assertPointsAt(row, [req.databaseName], req);
        if (this.decrypt(row) !== plain) {
          await c.query(`UPDATE dbo.odsinstances SET connectionstring = $2 WHERE odsinstanceid = $1`, [
            row.odsinstanceid,
            this.encrypt(plain),
          ]);
        }
      } else {
        row = await this.insertRow(c, req, plain);
        outcome = 'registered';
      }
      await this.syncContexts(c, row.odsinstanceid, req.contexts);
      for (const id of clientIds) {
        await c.query(
          `INSERT INTO dbo.apiclientodsinstances (apiclient_apiclientid, odsinstance_odsinstanceid)
           SELECT $1::int, $2::int WHERE NOT EXISTS (
             SELECT 1 FROM dbo.apiclientodsinstances WHERE apiclient_apiclientid = $1::int AND odsinstance_odsinstanceid = $2::int)`,
          [id, row.odsinstanceid],
        );
      }
      await this.step('register.written');
      return { outcome, odsInstanceId: row.odsinstanceid, warnings };
    });
    await this.step('register.committed');
    return result;
  }

  /** After a rename: the row's connection string names the new database (and its Name follows the instance's). */
  async repoint(req: RepointRequest): Promise<RegistryResult> {
    const plain = odsConnectionStringFor(this.target.odsConnectionString, req.to);
    await this.step('repoint.before');
    const result = await this.transaction(async (c): Promise<RegistryResult> => {
      const row = await this.findOurs(c, req.knownOdsInstanceId, req.name, req.instanceType, [req.from, req.to]);
      if (!row)
        return {
          outcome: 'not-registered',
          odsInstanceId: null,
          warnings: [`the instance has no row in ${this.where} (dbo.OdsInstances); nothing was re-pointed`],
        };
      const warnings: string[] = [];
      let changed = false;
      if (this.decrypt(row) !== plain) {
        await c.query(`UPDATE dbo.odsinstances SET connectionstring = $2 WHERE odsinstanceid = $1`, [
          row.odsinstanceid,
          this.encrypt(plain),
        ]);
        changed = true;
      }
      if (row.name !== req.name) {
        const taken = await c.query(
          `SELECT 1 FROM dbo.odsinstances WHERE name = $1 AND instancetype IS NOT DISTINCT FROM $2 AND odsinstanceid <> $3`,
          [req.name, row.instancetype, row.odsinstanceid],
        );
        if (taken.rowCount) {
          warnings.push(
            `dbo.OdsInstances.Name kept as ${JSON.stringify(row.name)}: another row there is already named ${JSON.stringify(req.name)}`,
          );
        } else {
          await c.query(`UPDATE dbo.odsinstances SET name = $2 WHERE odsinstanceid = $1`, [
            row.odsinstanceid,
            req.name,
          ]);
          changed = true;
        }
      }
      await this.step('repoint.written');
      return { outcome: changed ? 'repointed' : 'already-pointed', odsInstanceId: row.odsinstanceid, warnings };
    });
    await this.step('repoint.committed');
    return result;
  }

  /**
   * Removes the row and its contexts. Client links and derivatives block it (the ODS/API's
   * administrators made them) unless the request said force; then they go too, and are listed.
   */
  async unregister(req: UnregisterRequest): Promise<RegistryResult> {
    await this.step('unregister.before');
    const result = await this.transaction(async (c): Promise<RegistryResult> => {
      const row = await this.findOurs(c, req.knownOdsInstanceId, req.name, req.instanceType, [req.databaseName]);
      if (!row) return { outcome: 'not-registered', odsInstanceId: null, warnings: [] };
      const id = row.odsinstanceid;
      const links = (
        await c.query<{ key: string | null }>(
          `SELECT c.key FROM dbo.apiclientodsinstances l LEFT JOIN dbo.apiclients c ON c.apiclientid = l.apiclient_apiclientid
           WHERE l.odsinstance_odsinstanceid = $1 ORDER BY c.key`,
          [id],
        )
      ).rows;
      const derivatives = (
        await c.query<{ derivativetype: string | null }>(
          `SELECT derivativetype FROM dbo.odsinstancederivatives WHERE odsinstance_odsinstanceid = $1 ORDER BY odsinstancederivativeid`,
          [id],
        )
      ).rows;
      const what = [
        links.length ? `${links.length} API client link(s) (dbo.ApiClientOdsInstances)` : '',
        derivatives.length ? `${derivatives.length} derivative(s) (dbo.OdsInstanceDerivatives)` : '',
      ]
        .filter(Boolean)
        .join(' and ');
      const warnings: string[] = [];
      if (what && !req.force)
        throw new PermanentJobError(
          req.operation === 'release'
            ? `refusing to release: ${what} in ${this.where} point at OdsInstanceId ${id}; nothing was removed and the database kept its marker. Remove them in the ODS/API's administration, or send POST /admin/instances/${req.instanceId}/release?force=true to remove them with the registration`
            : `refusing to delete: ${what} in ${this.where} point at OdsInstanceId ${id}; nothing was removed and the database was left in place. Remove them in the ODS/API's administration, or send DELETE /admin/instances/${req.instanceId}?force=true to remove them with the instance`,
        );
      if (what) {
        await c.query(`DELETE FROM dbo.apiclientodsinstances WHERE odsinstance_odsinstanceid = $1`, [id]);
        await c.query(`DELETE FROM dbo.odsinstancederivatives WHERE odsinstance_odsinstanceid = $1`, [id]);
        const detail = [
          links.length ? `client keys ${links.map((l) => l.key ?? '(unknown client)').join(', ')}` : '',
          derivatives.length ? `derivatives ${derivatives.map((d) => d.derivativetype ?? '?').join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ');
        warnings.push(`forced delete removed ${what} from ${this.where} (OdsInstanceId ${id}): ${detail}`);
      }
      await c.query(`DELETE FROM dbo.odsinstancecontexts WHERE odsinstance_odsinstanceid = $1`, [id]);
      await c.query(`DELETE FROM dbo.odsinstances WHERE odsinstanceid = $1`, [id]);
      await this.step('unregister.written');
      return { outcome: 'unregistered', odsInstanceId: null, warnings };
    });
    await this.step('unregister.committed');
    return result;
  }

  /** Worth retrying: EdFi_Admin unreachable, a lost race, a lock held elsewhere past lock_timeout. */
  isTransient(err: unknown): boolean {
    if (err instanceof PermanentJobError) return false;
    return (
      err instanceof RegistryRaceError ||
      isConnectionFailure(err) ||
      isSerializationFailure(err) ||
      errorCode(err) === SQLSTATE.lockNotAvailable
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private encrypt(plain: string): string {
    return encryptConnectionString(plain, this.target.encryptionKey);
  }

  private decrypt(row: OdsInstanceRow): string | null {
    return row.connectionstring ? decryptConnectionString(row.connectionstring, this.target.encryptionKey) : null;
  }

  /** The row recorded for the instance (by id), or else the row of its (Name, InstanceType). */
  private async findRow(
    c: PoolClient,
    knownId: number | null,
    name: string,
    instanceType: string | null,
    lock: boolean,
  ): Promise<OdsInstanceRow | null> {
    const forUpdate = lock ? ' FOR UPDATE' : '';
    if (knownId !== null) {
      const byId = await c.query<OdsInstanceRow>(
        `SELECT odsinstanceid, name, instancetype, connectionstring FROM dbo.odsinstances WHERE odsinstanceid = $1${forUpdate}`,
        [knownId],
      );
      if (byId.rows[0]) return byId.rows[0];
    }
    const byName = await c.query<OdsInstanceRow>(
      `SELECT odsinstanceid, name, instancetype, connectionstring FROM dbo.odsinstances
       WHERE name = $1 AND instancetype IS NOT DISTINCT FROM $2 ORDER BY odsinstanceid LIMIT 1${forUpdate}`,
      [name, instanceType],
    );
    return byName.rows[0] ?? null;
  }

  /** The instance's row: the one recorded, or one of its name whose connection string names one of its databases. */
  private async findOurs(
    c: PoolClient,
    knownId: number | null,
    name: string,
    instanceType: string | null,
    databases: string[],
  ): Promise<OdsInstanceRow | null> {
    const row = await this.findRow(c, knownId, name, instanceType, true);
    if (!row || row.odsinstanceid === knownId) return row;
    const plain = this.decrypt(row);
    return plain !== null && databases.includes(databaseNameIn(plain) ?? '') ? row : null;
  }

  /** Refuses when a row other than `ownId` points at the database (compared case-insensitively). */
  private async assertNoOtherRowFor(c: PoolClient, databaseName: string, ownId: number | null): Promise<void> {
    const rows = (
      await c.query<OdsInstanceRow>(
        `SELECT odsinstanceid, name, instancetype, connectionstring FROM dbo.odsinstances WHERE connectionstring IS NOT NULL ORDER BY odsinstanceid`,
      )
    ).rows;
    const other = rows.find((row) => {
      if (row.odsinstanceid === ownId) return false;
      const plain = this.decrypt(row);
      return plain !== null && (databaseNameIn(plain) ?? '').toLowerCase() === databaseName.toLowerCase();
    });
    if (other)
      throw new PermanentJobError(
        `database "${databaseName}" is already registered in ${this.where} as OdsInstanceId ${other.odsinstanceid} (Name ${JSON.stringify(other.name)}); adopting it would give it a second row; nothing was written there`,
      );
  }

  private assertPointsAt(row: OdsInstanceRow, databases: string[], req: { name: string; instanceType: string | null }) {
    const plain = this.decrypt(row);
    if (plain !== null && databases.includes(databaseNameIn(plain) ?? '')) return;
    const why =
      plain === null
        ? 'its connection string does not decrypt with the configured key'
        : `it points at database "${databaseNameIn(plain) ?? '(none named)'}"`;
    throw new PermanentJobError(
      `the name ${JSON.stringify(req.name)} (InstanceType ${JSON.stringify(req.instanceType)}) is taken in ${this.where} by OdsInstanceId ${row.odsinstanceid}, which is not this instance's: ${why}; nothing was written there`,
    );
  }

  private async insertRow(c: PoolClient, req: RegisterRequest, plain: string): Promise<OdsInstanceRow> {
    try {
      const r = await c.query<OdsInstanceRow>(
        `INSERT INTO dbo.odsinstances (name, instancetype, connectionstring) VALUES ($1, $2, $3)
         RETURNING odsinstanceid, name, instancetype, connectionstring`,
        [req.name, req.instanceType, this.encrypt(plain)],
      );
      return r.rows[0]!;
    } catch (err) {
      if (errorCode(err) === SQLSTATE.uniqueViolation)
        throw new RegistryRaceError(
          `another writer added an OdsInstances row named ${JSON.stringify(req.name)} meanwhile`,
        );
      throw err;
    }
  }

  /** The ApiClientId of each key; an unknown key refuses the whole registration. */
  private async clientIds(c: PoolClient, keys: readonly string[]): Promise<number[]> {
    if (!keys.length) return [];
    const r = await c.query<{ apiclientid: number; key: string }>(
      `SELECT apiclientid, key FROM dbo.apiclients WHERE key = ANY($1::text[]) ORDER BY apiclientid`,
      [[...keys]],
    );
    const found = new Map(r.rows.map((row) => [row.key, row.apiclientid]));
    const unknown = keys.filter((k) => !found.has(k));
    if (unknown.length)
      throw new PermanentJobError(
        `unknown API client key(s) in ${this.where} (dbo.ApiClients): ${unknown.map((k) => JSON.stringify(k)).join(', ')}; nothing was written there`,
      );
    return [...new Set(keys.map((k) => found.get(k)!))];
  }

  /** Makes the instance's context rows exactly `contexts`. */
  private async syncContexts(c: PoolClient, id: number, contexts: readonly OdsInstanceContext[]): Promise<void> {
    const existing = (
      await c.query<{ contextkey: string; contextvalue: string }>(
        `SELECT contextkey, contextvalue FROM dbo.odsinstancecontexts WHERE odsinstance_odsinstanceid = $1`,
        [id],
      )
    ).rows;
    const wanted = new Map(contexts.map((x) => [x.contextKey, x.contextValue]));
    const stale = existing.filter((e) => !wanted.has(e.contextkey)).map((e) => e.contextkey);
    if (stale.length)
      await c.query(
        `DELETE FROM dbo.odsinstancecontexts WHERE odsinstance_odsinstanceid = $1 AND contextkey = ANY($2::text[])`,
        [id, stale],
      );
    for (const [key, value] of wanted) {
      const row = existing.find((e) => e.contextkey === key);
      if (!row)
        await c.query(
          `INSERT INTO dbo.odsinstancecontexts (odsinstance_odsinstanceid, contextkey, contextvalue) VALUES ($1, $2, $3)`,
          [id, key, value],
        );
      else if (row.contextvalue !== value)
        await c.query(
          `UPDATE dbo.odsinstancecontexts SET contextvalue = $3 WHERE odsinstance_odsinstanceid = $1 AND contextkey = $2`,
          [id, key, value],
        );
    }
  }

  private async step(name: string): Promise<void> {
    await this.options.onStep?.(name);
  }

  private async withClient<T>(work: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }

  private async transaction<T>(work: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      // A session whose rollback failed is destroyed, not handed to the next job.
      client.release(broken);
    }
  }
}

function checkLimits(req: RegisterRequest): void {
  const problems: string[] = [];
  if (req.name.length > LIMITS.name) problems.push(`the instance name is longer than ${LIMITS.name} characters`);
  if (req.instanceType && req.instanceType.length > LIMITS.instanceType)
    problems.push(`the instance type is longer than ${LIMITS.instanceType} characters`);
  for (const x of req.contexts) {
    if (x.contextKey.length > LIMITS.contextKey || x.contextValue.length > LIMITS.contextValue)
      problems.push(`context ${JSON.stringify(x.contextKey)} exceeds ${LIMITS.contextKey} characters`);
  }
  if (new Set(req.contexts.map((x) => x.contextKey)).size !== req.contexts.length)
    problems.push('a context key is given twice');
  if (problems.length) throw new PermanentJobError(`cannot register in EdFi_Admin: ${problems.join('; ')}`);
}

/** One registry per tenant that has registration on; none when it is off. */
export class Registrations {
  private constructor(private readonly byTenant: ReadonlyMap<string, EdFiAdminRegistry>) {}

  static none(): Registrations {
    return new Registrations(new Map());
  }

  /** Opens and checks every target; refuses (closing what it opened) when any is unfit. */
  static async open(targets: ReadonlyMap<string, EdFiAdminTarget>, options: RegistryOptions): Promise<Registrations> {
    const registries = new Map([...targets].map(([tenant, t]) => [tenant, new EdFiAdminRegistry(t, options)]));
    const opened = new Registrations(registries);
    try {
      // EdFi_Admin may still be starting (processes start in any order): wait for it, then check.
      for (const registry of registries.values())
        await retryTransient(() => registry.verify(), {
          attempts: 10,
          baseDelayMs: 500,
          maxDelayMs: 5000,
          isTransient: isConnectionFailure,
          onRetry: (err, attempt, delayMs) =>
            options.log.warn('EdFi_Admin not reachable yet; waiting', {
              event: 'edfi_admin.waiting',
              tenant: registry.target.tenant,
              attempt,
              delayMs,
              error: errorMessage(err),
            }),
        });
    } catch (err) {
      await opened.close();
      if (err instanceof EdFiAdminStartupError) throw err;
      throw new EdFiAdminStartupError(`could not check EdFi_Admin: ${errorMessage(err)}`);
    }
    return opened;
  }

  get enabled(): boolean {
    return this.byTenant.size > 0;
  }

  get tenants(): string[] {
    return [...this.byTenant.keys()];
  }

  /** The registry of the instance's tenant ('' without tenants); undefined when registration is off for it. */
  for(tenant: string): EdFiAdminRegistry | undefined {
    return this.byTenant.get(tenant);
  }

  isTransient(err: unknown): boolean {
    return [...this.byTenant.values()].some((r) => r.isTransient(err));
  }

  async close(): Promise<void> {
    await Promise.all([...this.byTenant.values()].map((r) => r.close().catch(() => undefined)));
  }
}
