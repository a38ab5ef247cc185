import { Router } from 'express';
import { errorMessage } from '../../shared/errors';
import { requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import type { EventHub, InstanceEvent } from './hub';

/** Last-Event-ID as the stream wrote it: a positive integer. Anything else starts afresh. */
const EVENT_ID = /^\d{1,19}$/;

/**
 * `GET /admin/events`: instance and job changes as server-sent events. Authenticated like every
 * route, by the Authorization header (never a token in the URL, which ends up in logs), so
 * browsers read it with fetch rather than EventSource. `Last-Event-ID` resumes after an event.
 */
export function eventRoutes(hub: EventHub, heartbeatMs: number): Router {
  const router = Router();
  router.get('/admin/events', requireAccess('read'), async (req, res) => {
    const lastEventId = req.header('last-event-id');
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 3000\n\n');

    const sent = new Set<string>();
    // With tenants, only the events of this request's tenant's instances (tenantScope set req.tenant).
    const tenant = req.tenant ?? '';
    const write = (events: InstanceEvent[]) => {
      for (const { tenant: of, ...event } of events) {
        if (sent.has(event.id)) continue;
        sent.add(event.id);
        if (tenant && of !== tenant) continue;
        res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      }
      if (sent.size > 5000) sent.clear(); // ids already sent long ago cannot come again
    };
    // Live events are held back until the missed ones are written, so the order is kept.
    const held: InstanceEvent[][] = [];
    let replaying = true;
    const unsubscribe = hub.subscribe(
      (events) => (replaying ? held.push(events) : write(events)),
      () => res.end(),
    );
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    req.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
    try {
      if (lastEventId && EVENT_ID.test(lastEventId)) write(await hub.since(lastEventId));
    } catch (err) {
      // The stream has begun, so no problem+json can follow: end it; the client reconnects.
      req.log.warn('could not replay missed events; stream ended', {
        event: 'events.replay_failed',
        error: errorMessage(err),
      });
      res.end();
      return;
    }
    replaying = false;
    for (const events of held.splice(0)) write(events);
  });
  router.all('/admin/events', onlyMethods('GET'));
  return router;
}
