import path from 'node:path';
import express, { Router } from 'express';

/** The page and its stylesheet, as written; its initializer is the UI's /app/docs.js (web/src/docs.ts), beside the modules it imports. */
const PAGE_DIR = path.resolve(__dirname, '../../../web/docs');
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/**
 * Only the files the page loads (and the maps a browser's developer tools ask for): not the
 * package's own index.html and initializer, which point at the public Petstore example.
 */
const SWAGGER_UI_FILES = new Set([
  '/swagger-ui.css',
  '/swagger-ui.css.map',
  '/swagger-ui-bundle.js',
  '/swagger-ui-bundle.js.map',
  '/favicon-32x32.png',
]);

/**
 * Interactive API docs at /docs: swagger-ui, served from node_modules, on the API's own
 * document. The page is public static content; the document it reads (/openapi.json) and the
 * requests "Try it out" sends need the signed-in user's token, which the page takes from the
 * main UI's session.
 */
export function docsRoutes(): Router {
  const router = Router();
  const page = (file: string) => path.join(PAGE_DIR, file);
  router.get(['/docs', '/docs/'], (_req, res) => res.sendFile(page('index.html')));
  router.get('/docs/docs.css', (_req, res) => res.sendFile(page('docs.css')));
  const swaggerUi = express.static(SWAGGER_UI_DIR, { index: false, redirect: false, fallthrough: true });
  router.use('/docs/swagger-ui', (req, res, next) =>
    SWAGGER_UI_FILES.has(req.path) ? swaggerUi(req, res, next) : next(),
  );
  return router;
}
