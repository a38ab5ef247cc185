import { Router } from 'express';
import { errorMessage } from '../../shared/errors';
import type { ClientCheck } from '../auth/client-check';
import { requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import type { EventHub, InstanceEvent } from './hub';

/** Last-Event-ID as the stream wrote it: a positive integer. Anything else starts afresh. */
const EVENT_ID = /^\d{1,19}$/;

/**
 * `GET /admin/events`: instance and job changes as server-sent events. Authenticated like every
 * route, by the Authorization header (never a token in the URL, which ends up in logs), so
 * browsers read it with fetch rather than EventSource. `Last-Event-ID` resumes after an event.
 * A stream lives no longer than its token, and ends soon after its client is disabled (checked
 * at each heartbeat): the client reconnects with a fresh token, or not at all.
 */
export function eventRoutes(hub: EventHub, heartbeatMs: number, clients: ClientCheck): Router {
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
    const principal = req.principal!;
    const heartbeat = setInterval(() => {
      res.write(': heartbeat\n\n');
      clients.isActive(principal.clientId).then(
        (active) => active || res.end(),
        () => undefined, // the admin database is away: the stream goes on; the next check decides
      );
    }, heartbeatMs);
    const expiry = setTimeout(() => res.end(), Math.max(0, principal.expiresAt * 1000 - Date.now()));
    req.on('close', () => {
      clearInterval(heartbeat);
      clearTimeout(expiry);
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
