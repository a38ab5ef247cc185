import http from 'node:http';
import { expect } from 'chai';
import { instanceNameKey, instanceNameProblems, normalizeInstanceName } from '../../shared/instances/instance-name';
import { withServer } from './ods-server';
import type { Stack } from './stack';

/**
 * Classic SQL injection payloads, and the characters that break naive quoting or LIKE
 * patterns. Every one is well-formed UTF-16 (so it can be percent-encoded into a path).
 */
export const SQL_PAYLOADS: readonly string[] = [
  `'; DROP DATABASE postgres; --`,
  `x" ; DROP DATABASE "y`,
  `1 OR 1=1`,
  `' OR '1'='1`,
  `1' OR '1'='1' --`,
  `$$; DROP TABLE instances; $$`,
  `$q$; DROP TABLE jobs; $q$`,
  `Robert'); DROP TABLE instances;--`,
  `'); DELETE FROM database_name_claims; --`,
  `' UNION SELECT client_id, secret_hash FROM api_clients --`,
  `1; SELECT pg_sleep(5); --`,
  `"; ALTER DATABASE postgres RENAME TO pwned; --`,
  `x'; COPY instances TO PROGRAM 'true'; --`,
  `*/ DROP TABLE jobs; /*`,
  `E'\\x27; TRUNCATE api_clients; --`,
  `'||(SELECT current_user)||'`,
  `\\`,
  `\\'`,
  `%`,
  `_`,
  `%%`,
  `%_%`,
  `a%b_c\\d`,
  `\u2019; DROP TABLE api_clients; --`, // right single quotation mark
  `\u02bc OR 1=1 --`, // modifier letter apostrophe
  `\uff07; DROP DATABASE postgres; --`, // fullwidth apostrophe
  `\u201c; DROP DATABASE \u201dpostgres\u201d; --`, // curly double quotes
  `\u0000`,
  `a\u0000b`,
  `'\u0000; DROP TABLE instances; --`,
  `\r\nDROP TABLE instances;`,
  `00000000-0000-0000-0000-000000000000' OR '1'='1`,
  `NULL`,
  `-1`,
  `1e9`,
  ` `,
];

/**
 * What the API accepts as an instanceName: once normalised (NFC, plain spaces, trimmed),
 * printable, not blank, well-formed, 1 to 100 code points, no invisible characters and no
 * look-alike script mix (the rules of shared/instances/instance-name.ts, tested on their own).
 */
export function isValidInstanceName(name: string): boolean {
  const normalized = normalizeInstanceName(name);
  return (
    /^(?!\s*$)[^\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]+$/u.test(normalized) &&
    [...normalized].length <= 100 &&
    instanceNameProblems(normalized).length === 0
  );
}

/** The names of `names` that are not the same name as an earlier one (409 if both were created). */
export function distinctInstanceNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  return names.filter((name) => {
    const key = instanceNameKey(normalizeInstanceName(name));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Databases of other test stacks (and of a benchmark run) come and go meanwhile; they are not ours to compare. */
const OTHER_TEST_DATABASES = /^(t_|odsim_t_|odsim_staging_|odsim_building_|odsim_bench_)/;

/** The databases on the server that this stack could have changed: all but other stacks' own. */
export function serverDatabases(stack: Stack): Promise<string[]> {
  const ours = (name: string) => name.startsWith(`t_${stack.id}_`) || name === `odsim_t_${stack.id}`;
  return withServer(async (c) =>
    (await c.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY datname')).rows
      .map((r) => r.datname)
      .filter((name) => !OTHER_TEST_DATABASES.test(name) || ours(name)),
  );
}

/** The four admin tables are still there, as tables. */
export async function expectAdminTablesIntact(stack: Stack): Promise<void> {
  const rows: { name: string; kind: string | null }[] = await stack.dataSource.query(
    `SELECT t.name, c.relkind AS kind FROM unnest($1::text[]) AS t(name)
     LEFT JOIN pg_class c ON c.oid = to_regclass('public.' || t.name)`,
    [['instances', 'jobs', 'api_clients', 'database_name_claims', 'audit_events']],
  );
  expect(
    rows.filter((r) => r.kind !== 'r').map((r) => r.name),
    'admin tables missing',
  ).to.deep.equal([]);
}

export interface RawRequest {
  method: string;
  /** Sent byte for byte: no normalisation of dot segments, backslashes or percent signs. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  contentType: string;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** Parsed when the response says it is JSON. */
  json: any;
}

/**
 * One HTTP request exactly as given (fetch would normalise the path and refuse some headers).
 * The body always carries its Content-Length, so the server reads exactly what was meant.
 */
export function sendRaw(baseUrl: string, request: RawRequest, agent?: http.Agent): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body =
    request.body === undefined
      ? undefined
      : Buffer.isBuffer(request.body)
        ? request.body
        : Buffer.from(request.body, 'utf8');
  const headers: Record<string, string> = { ...request.headers };
  if (body !== undefined) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: request.method, path: request.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const contentType = res.headers['content-type'] ?? '';
          let json: unknown;
          if (/json/.test(contentType) && text) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, contentType, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** RFC 9457 problem+json whose `status` member is the HTTP status. */
export function expectProblem(r: RawResponse, status: number | number[], what = ''): void {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses, `${what}: ${r.status} ${r.text.slice(0, 300)}`).to.include(r.status);
  expect(r.contentType, `${what}: content type`).to.match(/^application\/problem\+json/);
  expect(r.json?.status, `${what}: status member`).to.equal(r.status);
  expect(r.json?.title, `${what}: title`).to.be.a('string').and.not.empty;
}
