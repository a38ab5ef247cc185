/**
 * The signed-in client's token, kept in sessionStorage (this tab only, gone when it closes),
 * never in a cookie scripts could read. The API docs page reads the same key.
 */
export interface Session {
  accessToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  clientId: string;
  scopes: string[];
}

const KEY = 'odsim.session';
const FULL_ACCESS = 'edfi_admin_api/full_access';

export function loadSession(): Session | null {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (value && typeof value === 'object' && typeof (value as Session).accessToken === 'string') {
      return value as Session;
    }
  } catch {
    // A damaged entry is the same as none.
  }
  return null;
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

export function canWrite(session: Session | null): boolean {
  return !!session && session.scopes.includes(FULL_ACCESS);
}

/** A token this close to its end is treated as ended: a request started now would fail midway. */
export function isExpired(session: Session, now = Date.now()): boolean {
  return session.expiresAt - 5000 <= now;
}

export class SignInError extends Error {}

/** The same client-credentials request any API client makes. */
export async function requestToken(clientId: string, clientSecret: string): Promise<Session> {
  const response = await fetch('/connect/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    if (response.status === 401) throw new SignInError('Unknown client id or wrong secret.');
    const detail = typeof body.detail === 'string' ? body.detail : (body.error_description as string | undefined);
    const wait = response.headers.get('Retry-After');
    throw new SignInError(
      `${detail ?? `Sign-in failed (HTTP ${response.status}).`}${wait ? ` Try again in ${wait} s.` : ''}`,
    );
  }
  return {
    accessToken: String(body.access_token),
    expiresAt: Date.now() + Number(body.expires_in) * 1000,
    clientId,
    scopes: (typeof body.scope === 'string' ? body.scope : '').split(' ').filter(Boolean),
  };
}
