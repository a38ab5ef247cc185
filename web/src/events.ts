import { currentSession } from './api.js';
import { clearSession } from './session.js';
import { currentTenant } from './tenant.js';

export interface ChangeEvent {
  id: string;
  type: 'instance' | 'job';
  instanceId: string;
  jobId: string | null;
  status: string;
  occurredAt: string;
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/**
 * Follows `GET /admin/events`. EventSource cannot send an Authorization header (and a token in
 * the URL would end up in logs), so the stream is read with fetch. After a drop it reconnects
 * with Last-Event-ID, so no change is missed.
 */
export class LiveEvents {
  private lastEventId: string | null = null;
  private abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly onEvent: (event: ChangeEvent) => void,
    private readonly onState: (state: LiveState) => void,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private async run(): Promise<void> {
    let delay = 1000;
    while (!this.stopped) {
      try {
        await this.follow();
        delay = 1000;
      } catch {
        // Dropped, refused or offline: wait and try again.
      }
      if (this.stopped) return;
      this.onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }

  private async follow(): Promise<void> {
    const session = await currentSession();
    const tenant = currentTenant();
    this.abort = new AbortController();
    const response = await fetch('/admin/events', {
      headers: {
        Authorization: `Bearer ${session.accessToken}`,
        Accept: 'text/event-stream',
        // With tenants the stream shows the chosen tenant's instances only.
        ...(tenant ? { tenant } : {}),
        ...(this.lastEventId ? { 'Last-Event-ID': this.lastEventId } : {}),
      },
      signal: this.abort.signal,
    });
    if (response.status === 401) {
      clearSession(); // the next currentSession() asks the user to sign in again
      return;
    }
    if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
    this.onState('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  private dispatch(frame: string): void {
    let id: string | null = null;
    let data = '';
    for (const line of frame.split('\n')) {
      if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (id) this.lastEventId = id;
    if (data) this.onEvent(JSON.parse(data) as ChangeEvent);
  }
}
