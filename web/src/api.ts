import { clearSession, isExpired, loadSession, type Session } from './session.js';
import { currentTenant, isTenantScoped } from './tenant.js';

/** RFC 9457 problem details, as every API error is sent. */
export interface Problem {
  title: string;
  status: number;
  detail: string;
  errors?: Record<string, string[]>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly retryAfter: string | null,
  ) {
    super(problem.detail || problem.title);
  }
}

export interface ApiResponse<T> {
  body: T;
  headers: Headers;
}

/**
 * Asks the user to sign in again (the page under the dialog stays as it was) and resolves with
 * the new session. Set by the app at start.
 */
let signInAgain: (reason: string) => Promise<Session> = () => Promise.reject(new Error('not signed in'));

export function onSignInNeeded(handler: (reason: string) => Promise<Session>): void {
  signInAgain = handler;
}

/** A session that can still be used, after asking the user to sign in again if it cannot. */
export async function currentSession(): Promise<Session> {
  const session = loadSession();
  if (session && !isExpired(session)) return session;
  clearSession();
  return signInAgain('Your session has ended. Sign in again to carry on where you were.');
}

/**
 * Calls the API with the session's token. A 401 (token expired or revoked) asks the user to
 * sign in again and then repeats the request once, so an action in progress is not lost.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
  for (let attempt = 0; ; attempt++) {
    const session = await currentSession();
    const tenant = isTenantScoped(path) ? currentTenant() : null;
    const response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${session.accessToken}`,
        ...(tenant ? { tenant } : {}),
        Accept: 'application/json, application/problem+json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && attempt === 0) {
      clearSession();
      await signInAgain('Your session has ended. Sign in again to carry on where you were.');
      continue;
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page, say): the status says what happened.
    }
    if (!response.ok) {
      const problem =
        parsed && typeof parsed === 'object'
          ? (parsed as Problem)
          : { title: `${response.status} ${response.statusText}`, status: response.status, detail: '' };
      throw new ApiError(response.status, problem, response.headers.get('Retry-After'));
    }
    return { body: parsed as T, headers: response.headers };
  }
}

/** What to tell the user about a failed call, in one sentence or two. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : '';
    return `${err.problem.detail || err.problem.title}${wait}`;
  }
  if (err instanceof TypeError) return 'The service could not be reached. Check your connection and try again.';
  return err instanceof Error ? err.message : String(err);
}

export interface Instance {
  id: string;
  instanceName: string;
  databaseName: string;
  previousDatabaseName: string | null;
  status: string;
  engine: string;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  tenant: string | null;
  instanceType: string | null;
  odsInstanceContexts: { contextKey: string; contextValue: string }[];
  odsInstanceId: number | null;
  apiClientKeys: string[];
  /** Deletes and renames are refused until it is unprotected. */
  protected: boolean;
  /** The template it was created from (GET /admin/templates); null for instances older than templates. */
  template: string | null;
  /** What the worker's last inventory saw of its database (docs/inventory.md). */
  inventory: InventoryFacts | null;
  /** Its database was dropped, renamed or re-marked by hand; never repaired automatically. */
  drift: { kind: 'missing' | 'marker'; detail: string; observedAt: string } | null;
  /** The instance whose database this one's was copied from. */
  sourceInstanceId: string | null;
  /** Registered from an existing database: DELETE releases it (keeps the database) unless dropDatabase=true. */
  adopted: boolean;
  job?: { id: string; type: string; status: string };
  _links: {
    rename?: { href: string };
    delete?: { href: string };
    release?: { href: string };
    retry?: { href: string };
    protect?: { href: string };
    unprotect?: { href: string };
  };
}

export interface InventoryFacts {
  observedAt: string;
  ageSeconds: number;
  exists: boolean;
  sizeBytes: number | null;
  state: string | null;
  connections: number | null;
  edfiOdsVersion: string | null;
  edfiStandardVersion: string | null;
}

export interface Job {
  id: string;
  instanceId: string;
  type: string;
  status: string;
  attempts: number;
  sourceDatabaseName: string | null;
  targetDatabaseName: string | null;
  error: string | null;
  warnings: string[];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface QueueStatus {
  paused: boolean;
  workers: number | null;
  warnings: string[];
}
