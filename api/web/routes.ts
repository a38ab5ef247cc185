import path from 'node:path';
import express, { Router } from 'express';

/** The project's root, from dist/api/web (compiled) — where web/public and dist/web live. */
const ROOT = path.resolve(__dirname, '../../..');

/**
 * The web UI: static files only, same origin as the API, no data in them; everything it shows
 * comes from the authenticated API with the token the user signs in for. Public, like a sign-in page.
 */
export function webRoutes(): Router {
  const router = Router();
  const options = { index: 'index.html', maxAge: '5m', fallthrough: true } as const;
  router.use('/app', express.static(path.join(ROOT, 'dist/web/app'), options));
  router.use(express.static(path.join(ROOT, 'web/public'), options));
  return router;
}
