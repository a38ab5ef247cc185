import type { Queue } from 'bullmq';
import { Router, type Express, type Request, type RequestHandler } from 'express';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors';
import type { ClientCheck } from '../auth/client-check';
import { authenticate, authenticateRequest, requireAccess } from '../auth/middleware';
import { grants } from '../auth/scopes';
import type { TokenService } from '../auth/tokens';
import { notFound, onlyMethods } from '../http/problems';
import { createBoard, DASHBOARD_CSP, DASHBOARD_PATH, isAllowedWrite } from './board';
import { queueStatus } from './queue-status';

/** The dashboard's session cookie: the caller's own bearer token, for pages a browser loads by itself. */
export const SESSION_COOKIE = 'odsim_board';
const SESSION_PATH = `${DASHBOARD_PATH}/session`;

export interface DashboardDeps {
  queue: Queue;
  tokens: TokenService;
  clients: ClientCheck;
}

const isSafe = (method: string) => method === 'GET' || method === 'HEAD';

/** A browser navigating to a page (not a script's fetch): it is sent to the web UI's sign-in rather than shown JSON. */
const isPageNavigation = (req: Request) => isSafe(req.method) && /\btext\/html\b/.test(req.get('accept') ?? '');

/** The origin a cookie-authenticated write comes from: Origin, else Referer's origin, else none. */
function requestOrigin(req: Request): string | undefined {
  const origin = req.get('origin');
  if (origin) return origin;
  const referer = req.get('referer');
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

/**
 * Hands the request to a bull-board app as express mounts an app: if the board passes it
 * on (no route of its own), req and res get back the prototypes of this app.
 */
function handTo(board: Express): RequestHandler {
  return (req, res, next) => {
    const request = Object.getPrototypeOf(req) as object;
    const response = Object.getPrototypeOf(res) as object;
    board(req, res, (err?: unknown) => {
      Object.setPrototypeOf(req, request);
      Object.setPrototypeOf(res, response);
      next(err);
    });
  };
}

/**
 * The queue dashboard (bull-board) at /admin/queues, its browser session, and the queue's
 * status at /admin/queue. Mounted before the API's bearer-only `/admin` authentication.
 */
export function dashboardRoutes(deps: DashboardDeps): Router {
  const router = Router();
  const bearer = authenticate(deps.tokens, deps.clients);

  router.get('/admin/queue', bearer, requireAccess('read'), async (_req, res) => {
    res.json(await queueStatus(deps.queue));
  });
  router.all('/admin/queue', bearer, onlyMethods('GET'));

  // The web UI keeps its token in sessionStorage, which a page load cannot send: it trades
  // the token for this cookie, which then carries the same token, for no longer than it lives.
  router.post(SESSION_PATH, bearer, requireAccess('read'), (req, res) => {
    const principal = req.principal!;
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')![1]!;
    res.cookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: DASHBOARD_PATH,
      maxAge: Math.max(0, principal.expiresAt * 1000 - Date.now()),
    });
    res.status(204).end();
  });
  // Signing out needs no token: an expired session must be able to clear itself.
  router.delete(SESSION_PATH, (req, res) => {
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: DASHBOARD_PATH });
    res.status(204).end();
  });
  router.all(SESSION_PATH, onlyMethods('POST', 'DELETE'));

  const full = handTo(createBoard(deps.queue, false));
  const readOnly = handTo(createBoard(deps.queue, true));
  router.use(DASHBOARD_PATH, async (req, res, next) => {
    res.set('Content-Security-Policy', DASHBOARD_CSP);
    try {
      await authenticateRequest(req, res, deps.tokens, deps.clients, { cookie: SESSION_COOKIE });
    } catch (err) {
      if (err instanceof UnauthorizedError && isPageNavigation(req)) {
        res.redirect(302, '/');
        return;
      }
      throw err;
    }
    next();
  });
  router.use(DASHBOARD_PATH, requireAccess('read'), (req, _res, next) => {
    if (isSafe(req.method)) return next();
    if (!grants(req.principal!.scopes, 'write'))
      throw new ForbiddenError('The queue dashboard is read-only for this client (it needs the full_access scope).');
    // SameSite=Strict already keeps the cookie off cross-site requests; this also refuses
    // writes from another origin of the same site.
    const expected = `${req.protocol}://${req.get('host')}`;
    if (req.authenticatedBy === 'cookie' && requestOrigin(req) !== expected)
      throw new ForbiddenError(`A dashboard change with the session cookie must come from ${expected} (Origin).`);
    if (!isAllowedWrite(req.method, req.path))
      throw new ForbiddenError(
        'The queue dashboard does not allow this: jobs and their data come only from the API, queue settings only from the workers.',
      );
    next();
  });
  router.use(DASHBOARD_PATH, (req, res, next) =>
    (grants(req.principal!.scopes, 'write') ? full : readOnly)(req, res, next),
  );
  router.use(DASHBOARD_PATH, notFound());
  return router;
}
