import { waitFor } from './wait';

export interface StreamEvent {
  id?: string;
  event?: string;
  data: Record<string, unknown>;
}

/**
 * A reader of `GET /admin/events` as a browser would use it through fetch (the token in the
 * Authorization header, never in the URL): it keeps every event and comment it receives.
 */
export class EventStream {
  readonly events: StreamEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  contentType = '';
  ended = false;
  private readonly abort = new AbortController();
  private buffer = '';
  private readonly listeners: ((event: StreamEvent) => void)[] = [];

  static async open(
    baseUrl: string,
    token: string | null,
    lastEventId?: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<EventStream> {
    const stream = new EventStream();
    const headers: Record<string, string> = { ...extraHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const response = await fetch(`${baseUrl}/admin/events`, { headers, signal: stream.abort.signal });
    stream.status = response.status;
    stream.contentType = response.headers.get('content-type') ?? '';
    if (!response.body) return stream;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          stream.take(decoder.decode(value, { stream: true }));
        }
      } catch {
        // aborted by close()
      } finally {
        stream.ended = true;
      }
    })();
    return stream;
  }

  /** Waits for an event that `match`es, among those received so far and to come. */
  waitFor(match: (e: StreamEvent) => boolean, what: string, timeoutMs = 30_000): Promise<StreamEvent> {
    return waitFor(async () => this.events.find(match), what, timeoutMs, 20);
  }

  /** Calls `listener` with each event as it is read (the benchmarks time arrivals with it). */
  onEvent(listener: (event: StreamEvent) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.abort.abort();
  }

  private take(text: string): void {
    this.buffer += text;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event: Partial<StreamEvent> = {};
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (!data) continue;
      const parsed: StreamEvent = { ...event, data: JSON.parse(data) as Record<string, unknown> };
      this.events.push(parsed);
      for (const listener of this.listeners) listener(parsed);
    }
  }
}
