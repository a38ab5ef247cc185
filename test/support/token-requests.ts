import { request } from 'node:http';

export interface TokenResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON (every answer of /connect/token is JSON). */
  body: Record<string, unknown>;
}

/**
 * POST /connect/token as a form, from `localAddress` when given (any 127.x.y.z works on
 * Linux loopback): how tests look like many callers without leaving the machine.
 */
export function postToken(
  baseUrl: string,
  fields: Record<string, string>,
  localAddress?: string,
  timeoutMs = 30_000,
): Promise<TokenResponse> {
  const body = new URLSearchParams(fields).toString();
  const url = new URL('/connect/token', baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        agent: false,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
            });
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.href} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
