import type { DataSource } from 'typeorm';
import { type AdminDialect, dialectOf, type EventListening } from '../../shared/database/dialects';
import { errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logger';

/** One change of an instance or a job, as the admin database's triggers logged it. */
export interface InstanceEvent {
  /** Increasing (a bigint, as text): what a client sends back as Last-Event-ID. */
  id: string;
  type: 'instance' | 'job';
  instanceId: string;
  jobId: string | null;
  status: string;
  occurredAt: string;
  /** The instance's tenant ('' without tenants; null if the instance row is gone); not sent to clients. */
  tenant: string | null;
}

export type EventListener = (events: InstanceEvent[]) => void;

interface EventRow {
  id: string;
  kind: 'instance' | 'job';
  instance_id: string;
  job_id: string | null;
  status: string;
  occurred_at: Date;
  tenant: string | null;
}

export interface EventHubOptions {
  /** The admin database; on PostgreSQL the hub holds one connection of its own there, for LISTEN. */
  url: string;
  connectTimeoutMs: number;
  /**
   * Read the log even without a notification this often (a NOTIFY lost while reconnecting); on
   * SQL Server, which has no notifications, this is how often the stream sees a change.
   */
  pollMs: number;
  /** Events older than this are deleted from the log (a client away longer re-reads the list). */
  retentionHours: number;
}

/**
 * Ids come from a sequence, so a transaction that commits late can log a smaller id than one
 * already read. Reading always goes back this far, and ids already sent are skipped.
 */
const REORDER_WINDOW = 200n;
const BATCH = 1000;
const PRUNE_EVERY_MS = 3_600_000;

// SQL Server returns uniqueidentifiers in upper case; ids are sent as the API writes them.
const toEvent = (row: EventRow): InstanceEvent => ({
  id: String(row.id),
  type: row.kind,
  instanceId: row.instance_id.toLowerCase(),
  jobId: row.job_id?.toLowerCase() ?? null,
  status: row.status,
  occurredAt: row.occurred_at.toISOString(),
  tenant: row.tenant,
});

/**
 * Streams the admin database's change log to this process's subscribers: woken by NOTIFY where
 * the dialect has it (PostgreSQL), checked by a poll. Every API replica runs one, so a client sees
 * the changes made through any replica and by any worker.
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>();
  private readonly closers = new Set<() => void>();
  private listener?: EventListening;
  private readonly dialect: AdminDialect;
  private cursor = 0n;
  private readonly sent = new Set<string>();
  private pumping?: Promise<void>;
  private again = false;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: EventHubOptions,
    private readonly log: Logger,
  ) {
    this.dialect = dialectOf(dataSource);
  }

  async start(): Promise<void> {
    const [row] = await this.dataSource.query<{ id: string }[]>(this.dialect.eventLog.latestId);
    this.cursor = BigInt(row?.id ?? 0);
    await this.listen();
    this.timers.push(setInterval(() => this.wake(), this.options.pollMs).unref());
    this.timers.push(setInterval(() => void this.prune(), PRUNE_EVERY_MS).unref());
  }

  /** `onClose` is called when the hub stops (the process is shutting down): streams end then. */
  subscribe(listener: EventListener, onClose: () => void): () => void {
    this.listeners.add(listener);
    this.closers.add(onClose);
    return () => {
      this.listeners.delete(listener);
      this.closers.delete(onClose);
    };
  }

  /** Logged events after `lastId`, oldest first, for a client that resumes. */
  async since(lastId: string): Promise<InstanceEvent[]> {
    const rows = await this.dataSource.query<EventRow[]>(this.dialect.eventLog.after, [lastId, BATCH]);
    return rows.map(toEvent);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.listeners.clear();
    for (const close of [...this.closers]) close();
    this.closers.clear();
    await this.listener?.close().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    let listening: EventListening | undefined;
    const started = this.dialect.listenForEvents(
      { url: this.options.url, connectTimeoutMs: this.options.connectTimeoutMs },
      () => this.wake(),
      (err) => {
        this.log.warn('event listener connection lost; reconnecting', {
          event: 'events.listener_lost',
          error: err.message,
        });
        if (listening && this.listener === listening) this.listener = undefined;
        this.reconnectSoon();
      },
    );
    if (started) {
      listening = await started;
      this.listener = listening;
    }
    this.wake(); // anything logged while no one listened
  }

  private reconnectSoon(): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer);
      this.listen().catch((err) => {
        this.log.warn('event listener could not reconnect; trying again', {
          event: 'events.listener_retry',
          error: errorMessage(err),
        });
        this.reconnectSoon();
      });
    }, 1000);
    this.timers.push(timer);
  }

  /** Reads new events once; a wake-up during a read makes one more read after it. */
  private wake(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch((err) => {
        this.log.warn('could not read the event log', { event: 'events.read_failed', error: errorMessage(err) });
      })
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async pump(): Promise<void> {
    const from = this.cursor > REORDER_WINDOW ? this.cursor - REORDER_WINDOW : 0n;
    const rows = await this.dataSource.query<EventRow[]>(this.dialect.eventLog.after, [String(from), BATCH]);
    if (rows.length === BATCH) this.again = true;
    const fresh = rows.filter((r) => !this.sent.has(String(r.id)));
    if (!fresh.length) return;
    for (const row of fresh) {
      this.sent.add(String(row.id));
      if (BigInt(row.id) > this.cursor) this.cursor = BigInt(row.id);
    }
    for (const id of this.sent) if (BigInt(id) <= this.cursor - REORDER_WINDOW) this.sent.delete(id);
    const events = fresh.map(toEvent);
    for (const listener of this.listeners) listener(events);
  }

  private async prune(): Promise<void> {
    await this.dataSource
      .query(this.dialect.eventLog.prune, [this.options.retentionHours])
      .catch((err) =>
        this.log.warn('could not prune the event log', { event: 'events.prune_failed', error: errorMessage(err) }),
      );
  }
}
