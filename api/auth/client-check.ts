import type { ClientStatus, ClientStore } from './clients';

/** Past this many remembered clients, forgotten answers are swept out (real clients are few). */
const SWEEP_AT = 1000;

/**
 * Whether a token's client still exists and is enabled, and which tenants it may act in, asked
 * of the admin database at most once per `cacheMs` per client: disabling a client revokes its
 * tokens (and changing its tenants takes effect) within that window, instead of when they
 * expire (30 min by default).
 */
export class ClientCheck {
  private readonly known = new Map<string, ClientStatus & { until: number }>();
  private readonly asking = new Map<string, Promise<ClientStatus>>();

  constructor(
    private readonly clients: ClientStore,
    private readonly cacheMs: number,
  ) {}

  async isActive(clientId: string): Promise<boolean> {
    return (await this.status(clientId)).active;
  }

  /** The tenants the client may act in; null: every tenant. */
  async tenantsOf(clientId: string): Promise<string[] | null> {
    return (await this.status(clientId)).tenants;
  }

  private async status(clientId: string): Promise<ClientStatus> {
    const cached = this.known.get(clientId);
    if (cached && cached.until > Date.now()) return cached;
    // One query per client at a time, however many of its requests arrive together.
    let pending = this.asking.get(clientId);
    if (!pending) {
      pending = this.ask(clientId).finally(() => this.asking.delete(clientId));
      this.asking.set(clientId, pending);
    }
    return pending;
  }

  private async ask(clientId: string): Promise<ClientStatus> {
    const status = await this.clients.status(clientId);
    if (this.known.size >= SWEEP_AT) {
      const now = Date.now();
      for (const [id, entry] of this.known) if (entry.until <= now) this.known.delete(id);
    }
    if (this.cacheMs > 0) this.known.set(clientId, { ...status, until: Date.now() + this.cacheMs });
    return status;
  }
}
