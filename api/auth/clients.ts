import { randomUUID } from 'node:crypto';
import { DataSource, IsNull } from 'typeorm';
import { ApiClientEntity } from '../../shared/database/entities';
import { ValidationError } from '../../shared/errors';
import { TENANT_ID } from '../../shared/tenants';
import { ALL_SCOPES, parseScopes } from './scopes';
import { decoy, generateSecret, hashSecret, verifySecret } from './secrets';

export interface ClientStatus {
  active: boolean;
  /** The tenants the client may act in; null: every tenant. */
  tenants: string[] | null;
}

/** api_clients.tenants: comma-separated ids; NULL means every tenant. */
export function parseClientTenants(value: string | null): string[] | null {
  return value === null
    ? null
    : value
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
}

export interface NewClient {
  client_id: string;
  client_secret: string;
  name: string;
  scope: string;
}

/** Runs a secret check; the token endpoint passes a HashGate, the CLI and bootstrap need none. */
export interface HashRunner {
  run<T>(work: () => Promise<T>): Promise<T>;
}
const UNGATED: HashRunner = { run: (work) => work() };

/** API clients: created by the CLI or the first-start bootstrap, checked by the token endpoint. */
export class ClientStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly hashing: HashRunner = UNGATED,
  ) {}

  async create(name: string, scope: string): Promise<NewClient> {
    const scopes = parseScopes(scope);
    const unknown = scopes.filter((s) => !ALL_SCOPES.includes(s));
    if (!name.trim() || name.length > 100) throw new ValidationError('name must be 1 to 100 characters');
    if (!scopes.length || unknown.length) {
      throw new ValidationError(
        `scope must be one or more of: ${ALL_SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`,
      );
    }
    const secret = generateSecret();
    const client = this.dataSource.getRepository(ApiClientEntity).create({
      id: randomUUID(),
      clientId: `odsim_${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      name: name.trim(),
      secretHash: await hashSecret(secret),
      scopes: scopes.join(' '),
      createdAt: new Date(),
      disabledAt: null,
    });
    await this.dataSource.getRepository(ApiClientEntity).insert(client);
    return { client_id: client.clientId, client_secret: secret, name: client.name, scope: client.scopes };
  }

  /** The client's allowed scopes if id and secret match an enabled client; otherwise null. */
  async authenticate(clientId: string, secret: string): Promise<string[] | null> {
    // An id longer than the column, or holding U+0000 (which PostgreSQL text cannot hold), names no client.
    const client =
      clientId.length <= 64 && !clientId.includes('\u0000')
        ? await this.dataSource.getRepository(ApiClientEntity).findOneBy({ clientId, disabledAt: IsNull() })
        : null;
    // Hash even for an unknown client, so response time does not tell which ids exist.
    const ok = await this.hashing.run(async () => verifySecret(secret, client?.secretHash ?? (await decoy())));
    return client && ok ? parseScopes(client.scopes) : null;
  }

  /** True while the client exists and is not disabled (tokens are checked against this on each use). */
  async isActive(clientId: string): Promise<boolean> {
    return (await this.status(clientId)).active;
  }

  /** Whether the client may act (exists, enabled) and in which tenants (null: every tenant). */
  async status(clientId: string): Promise<ClientStatus> {
    const client = await this.dataSource
      .getRepository(ApiClientEntity)
      .findOne({ select: { id: true, tenants: true }, where: { clientId, disabledAt: IsNull() } });
    return { active: !!client, tenants: client ? parseClientTenants(client.tenants) : [] };
  }

  /**
   * Limits the client to `tenants` (null: every tenant). Returns false for no such client.
   * Tokens already issued follow the change within TOKEN_CLIENT_CHECK_CACHE_MS.
   */
  async setTenants(clientId: string, tenants: string[] | null): Promise<boolean> {
    if (tenants !== null) {
      if (!tenants.length) throw new ValidationError('give at least one tenant, or every tenant');
      const bad = tenants.filter((t) => !TENANT_ID.test(t));
      if (bad.length) throw new ValidationError(`not tenant ids: ${bad.join(', ')}`);
    }
    const result = await this.dataSource
      .getRepository(ApiClientEntity)
      .update({ clientId }, { tenants: tenants === null ? null : [...new Set(tenants)].join(',') });
    return (result.affected ?? 0) > 0;
  }

  async count(): Promise<number> {
    return this.dataSource.getRepository(ApiClientEntity).count();
  }

  async list(): Promise<
    { client_id: string; name: string; scope: string; tenants: string[] | null; created_at: Date; disabled: boolean }[]
  > {
    const rows = await this.dataSource.getRepository(ApiClientEntity).find({ order: { createdAt: 'ASC' } });
    return rows.map((c) => ({
      client_id: c.clientId,
      name: c.name,
      scope: c.scopes,
      tenants: parseClientTenants(c.tenants),
      created_at: c.createdAt,
      disabled: !!c.disabledAt,
    }));
  }

  async disable(clientId: string): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(ApiClientEntity)
      .update({ clientId, disabledAt: IsNull() }, { disabledAt: new Date() });
    return (result.affected ?? 0) > 0;
  }
}
