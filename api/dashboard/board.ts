import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Express } from 'express';

/** Where the dashboard lives; bull-board writes it into the page's <base href>. */
export const DASHBOARD_PATH = '/admin/queues';

/**
 * One bull-board over the deployment's queue. Two are built, one read-only (no buttons, and
 * bull-board itself refuses its writes), and each request goes to the one its caller's scope allows.
 */
export function createBoard(queue: Queue, readOnly: boolean): Express {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [
      new BullMQAdapter(queue, {
        readOnlyMode: readOnly,
        displayName: 'Instance operations',
        description:
          'Create, rename and delete jobs. The admin database is the truth: a job removed here is enqueued again by the reconciler.',
      }),
    ],
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'ODS Instance Manager',
        hideDocsLink: true,
        // The way back to the web UI, where the instances (and signing out) are.
        miscLinks: [{ text: 'Back to instances', url: '/' }],
        // Also keeps the Redis server's details from read-only clients; its panel's logo carries an inline <style>.
        hideRedisDetails: true,
        environment: readOnly ? { label: 'read-only', color: '#555' } : undefined,
      },
    },
  });
  const app = serverAdapter.getRouter() as Express;
  app.disable('x-powered-by');
  return app;
}

/**
 * The non-GET routes of bull-board 9.10 that the dashboard may use. Anything else is refused
 * before bull-board sees it, for every caller: adding a job (the UI's "Add" and "Duplicate"),
 * editing a job's data, delay or priority, changing the queue's concurrency or rate limit,
 * job schedulers. Job payloads and queue settings come only from the API and the workers; a
 * route a later bull-board adds is refused until it is listed here.
 */
const ALLOWED_WRITES: readonly RegExp[] = [
  /^\/api\/queues\/(pause|resume)$/,
  /^\/api\/queues\/[^/]+\/(pause|resume|promote|empty|obliterate)$/,
  /^\/api\/queues\/[^/]+\/(retry|clean)\/[^/]+$/,
  /^\/api\/queues\/[^/]+\/[^/]+\/(retry|clean|promote)$/,
];

/** `path` is relative to the dashboard (req.path under its mount). */
export function isAllowedWrite(method: string, path: string): boolean {
  return method === 'PUT' && ALLOWED_WRITES.some((route) => route.test(path));
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The policy of the dashboard's responses, whatever the app's global one becomes. bull-board's
 * page (index.ejs) loads its scripts and styles from its own static folder, which 'self'
 * covers, plus: an inline <style> (a keyframe) and inline style attributes on the "Loading"
 * placeholder, which are allowed by hash, read from the installed template so the policy
 * follows an upgrade ('unsafe-hashes' is what lets a hash match an attribute; no
 * 'unsafe-inline'). Its Google Fonts stylesheet is deliberately left blocked: an admin page
 * makes no third-party requests; the UI falls back to system fonts. The JSON in
 * <script type="application/json"> is data, not script, and needs nothing.
 */
function dashboardPolicy(): string {
  const template = readFileSync(
    join(dirname(require.resolve('@bull-board/ui/package.json')), 'dist', 'index.ejs'),
    'utf8',
  );
  const styles = [...template.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => sha256(m[1]!));
  const attributes = [...new Set([...template.matchAll(/\sstyle="([^"]*)"/g)].map((m) => sha256(m[1]!)))];
  return [
    "default-src 'self'",
    "base-uri 'self'",
    "connect-src 'self'",
    "font-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "script-src 'self'",
    "script-src-attr 'none'",
    `style-src 'self' ${styles.join(' ')}`,
    `style-src-elem 'self' ${styles.join(' ')}`,
    `style-src-attr 'unsafe-hashes' ${attributes.join(' ')}`,
    "worker-src 'self'",
  ].join('; ');
}

export const DASHBOARD_CSP = dashboardPolicy();
