import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { OdsInstanceContext } from '../../shared/database/entities/instance.entity';
import { InstanceEntity } from '../../shared/database/entities';
import { decryptConnectionString, encryptConnectionString } from '../../worker/edfi-admin/connection-string-crypto';
import { databaseNameIn } from '../../worker/edfi-admin/settings';
import { dropDatabases, withServer } from './ods-server';
import { urlFor } from './settings';
import type { Stack } from './stack';

/** The ODS/API's own login, as an operator would configure it; `{databaseName}` is replaced per instance. */
export const ODS_CONNECTION_TEMPLATE =
  'host=ods.example;port=5432;username=ods_app;password=ods-app-pw;database={databaseName}';

/**
 * The EdFi_Admin tables the worker touches, as the ODS/API 7 creates them on PostgreSQL
 * (unquoted, so lower-case names; no cascades on the foreign keys), from the facts in issue 9.
 */
const SCHEMA = `
CREATE SCHEMA dbo;
CREATE TABLE dbo.odsinstances (
  odsinstanceid serial PRIMARY KEY,
  name varchar(100) NOT NULL,
  instancetype varchar(100) NULL,
  connectionstring varchar(1500) NULL
);
CREATE UNIQUE INDEX ux_odsinstances_name_instancetype ON dbo.odsinstances (name, instancetype);
CREATE TABLE dbo.odsinstancecontexts (
  odsinstancecontextid serial PRIMARY KEY,
  odsinstance_odsinstanceid int NOT NULL REFERENCES dbo.odsinstances (odsinstanceid),
  contextkey varchar(50) NOT NULL,
  contextvalue varchar(50) NOT NULL,
  CONSTRAINT uc_odsinstancecontext UNIQUE (odsinstance_odsinstanceid, contextkey)
);
CREATE TABLE dbo.odsinstancederivatives (
  odsinstancederivativeid serial PRIMARY KEY,
  odsinstance_odsinstanceid int NOT NULL REFERENCES dbo.odsinstances (odsinstanceid),
  derivativetype varchar(50) NOT NULL,
  connectionstring varchar(1500) NULL
);
CREATE TABLE dbo.apiclients (
  apiclientid serial PRIMARY KEY,
  key varchar(50) NOT NULL UNIQUE,
  secret varchar(100) NOT NULL,
  name varchar(50) NOT NULL,
  isapproved boolean NOT NULL DEFAULT true,
  usesandbox boolean NOT NULL DEFAULT false,
  sandboxtype int NOT NULL DEFAULT 0,
  secretishashed boolean NOT NULL DEFAULT false
);
CREATE TABLE dbo.apiclientodsinstances (
  apiclientodsinstanceid serial PRIMARY KEY,
  apiclient_apiclientid int NOT NULL REFERENCES dbo.apiclients (apiclientid),
  odsinstance_odsinstanceid int NOT NULL REFERENCES dbo.odsinstances (odsinstanceid)
);
`;

export interface OdsInstanceRow {
  id: number;
  name: string;
  instanceType: string | null;
  /** Decrypted with this fixture's key; null if it does not decrypt. */
  connectionString: string | null;
  databaseName: string | null;
}

/** A test EdFi_Admin database of its own, with its own encryption key. */
export class TestEdFiAdmin {
  readonly name = `odsim_edfi_${randomBytes(4).toString('hex')}`;
  readonly key = randomBytes(32);
  readonly url = urlFor(this.name);

  static async create(options: { tables?: boolean } = {}): Promise<TestEdFiAdmin> {
    const admin = new TestEdFiAdmin();
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(admin.name)}`));
    if (options.tables !== false) await admin.query(SCHEMA);
    return admin;
  }

  /** The worker's settings for this EdFi_Admin; `tenant` gives the suffixed names. */
  env(suffix = '', key = this.key): Record<string, string> {
    return {
      [`EDFI_ADMIN_DATABASE_URL${suffix}`]: this.url,
      [`EDFI_ADMIN_ENCRYPTION_KEY${suffix}`]: key.toString('base64'),
      [`EDFI_ODS_CONNECTION_STRING${suffix}`]: ODS_CONNECTION_TEMPLATE,
    };
  }

  async query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []) {
    const client = new Client({ connectionString: this.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await client.query<T>(sql, params);
    } finally {
      await client.end();
    }
  }

  /** An ODS/API client, as the ODS/API's administration would make it; returns its ApiClientId. */
  async addApiClient(key: string): Promise<number> {
    const r = await this.query<{ apiclientid: number }>(
      `INSERT INTO dbo.apiclients (key, secret, name) VALUES ($1, 'secret', $1) RETURNING apiclientid`,
      [key],
    );
    return r.rows[0]!.apiclientid;
  }

  async addDerivative(odsInstanceId: number, type: 'ReadReplica' | 'Snapshot'): Promise<void> {
    await this.query(
      `INSERT INTO dbo.odsinstancederivatives (odsinstance_odsinstanceid, derivativetype, connectionstring) VALUES ($1, $2, $3)`,
      [odsInstanceId, type, encryptConnectionString('host=replica;database=x', this.key)],
    );
  }

  /** A row written as another party would (a connection string encrypted with `key`). */
  async addOdsInstance(name: string, instanceType: string | null, plain: string, key = this.key): Promise<number> {
    const r = await this.query<{ odsinstanceid: number }>(
      `INSERT INTO dbo.odsinstances (name, instancetype, connectionstring) VALUES ($1, $2, $3) RETURNING odsinstanceid`,
      [name, instanceType, encryptConnectionString(plain, key)],
    );
    return r.rows[0]!.odsinstanceid;
  }

  async odsInstances(): Promise<OdsInstanceRow[]> {
    const r = await this.query<{
      odsinstanceid: number;
      name: string;
      instancetype: string | null;
      connectionstring: string;
    }>(`SELECT odsinstanceid, name, instancetype, connectionstring FROM dbo.odsinstances ORDER BY odsinstanceid`);
    return r.rows.map((row) => {
      const plain = decryptConnectionString(row.connectionstring, this.key);
      return {
        id: row.odsinstanceid,
        name: row.name,
        instanceType: row.instancetype,
        connectionString: plain,
        databaseName: plain === null ? null : databaseNameIn(plain),
      };
    });
  }

  async contextsOf(odsInstanceId: number): Promise<OdsInstanceContext[]> {
    const r = await this.query<{ contextkey: string; contextvalue: string }>(
      `SELECT contextkey, contextvalue FROM dbo.odsinstancecontexts WHERE odsinstance_odsinstanceid = $1 ORDER BY contextkey`,
      [odsInstanceId],
    );
    return r.rows.map((x) => ({ contextKey: x.contextkey, contextValue: x.contextvalue }));
  }

  /** Keys of the API clients linked to the instance. */
  async clientKeysOf(odsInstanceId: number): Promise<string[]> {
    const r = await this.query<{ key: string }>(
      `SELECT c.key FROM dbo.apiclientodsinstances l JOIN dbo.apiclients c ON c.apiclientid = l.apiclient_apiclientid
       WHERE l.odsinstance_odsinstanceid = $1 ORDER BY c.key`,
      [odsInstanceId],
    );
    return r.rows.map((x) => x.key);
  }

  async count(table: string): Promise<number> {
    if (!/^dbo\.[a-z]+$/.test(table)) throw new Error('not a table of this fixture');
    return Number((await this.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
  }

  async drop(): Promise<void> {
    await dropDatabases([this.name]);
  }
}

/** The registration fields of a create request (and its tenant, sent as the `tenant` header). */
export interface RegistrationFields {
  contexts?: OdsInstanceContext[];
  apiClientKeys?: string[];
  instanceType?: string | null;
  tenant?: string;
  instanceName?: string;
}

/** POST /admin/instances with the registration fields, as a client would send them. */
export async function requestCreate(
  stack: Stack,
  suffix: string,
  fields: RegistrationFields = {},
): Promise<{ id: string; jobId: string; databaseName: string; instanceName: string }> {
  const databaseName = stack.db(suffix);
  const instanceName = fields.instanceName ?? `Test ${stack.id} ${suffix}`;
  const body: Record<string, unknown> = { instanceName, databaseName };
  if (fields.contexts) body.odsInstanceContexts = fields.contexts;
  if (fields.apiClientKeys) body.apiClientKeys = fields.apiClientKeys;
  if (fields.instanceType) body.instanceType = fields.instanceType;
  const r = await stack.request('POST', '/admin/instances', {
    body,
    headers: fields.tenant ? { tenant: fields.tenant } : {},
  });
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, jobId: r.body.job.id, databaseName, instanceName };
}

/**
 * EdFi_Admin matches the records: each live instance of the tenant (Created, or failed in a
 * rename or delete) has exactly one row, the one recorded, naming its database; nothing else
 * there names one of this stack's databases.
 */
export async function expectEdFiAdminMatchesRecords(stack: Stack, edfi: TestEdFiAdmin, tenant = ''): Promise<void> {
  const instances = (await stack.dataSource.getRepository(InstanceEntity).find()).filter((i) => i.tenant === tenant);
  const live = instances.filter((i) => ['Created', 'RenameFailed', 'DeleteFailed', 'ReleaseFailed'].includes(i.status));
  const rows = (await edfi.odsInstances()).filter((r) => r.databaseName?.startsWith(`t_${stack.id}_`));
  expect(rows.map((r) => r.databaseName).sort(), "EdFi_Admin rows naming this stack's databases").to.deep.equal(
    live.map((i) => i.databaseName).sort(),
  );
  for (const instance of live) {
    const row = rows.find((r) => r.databaseName === instance.databaseName)!;
    expect(instance.odsInstanceId, `OdsInstanceId of ${instance.databaseName}`).to.equal(row.id);
  }
}
