import http from 'node:http';
import { expect } from 'chai';
import { ClientStore, NewClient } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { ApiClientEntity, DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import {
  expectAdminTablesIntact,
  isValidInstanceName,
  RawRequest,
  RawResponse,
  sendRaw,
  serverDatabases,
  SQL_PAYLOADS,
} from '../support/hostile';
import { EDFI_TEMPLATE } from '../support/settings';
import { Stack, startStack } from '../support/stack';

/** Change it (HOSTILE_SEED=...) to explore; a failure names its seed and case so it reproduces. */
const SEED = Number(process.env.HOSTILE_SEED ?? 20251125);
/** Random requests on top of the ~2,800 listed ones, held only to the general rules. */
const FUZZ_REQUESTS = 900;
const CONCURRENCY = 20;
const BODY_LIMIT = 16 * 1024;
/** Every status this API may answer to hostile input; anything else is a finding. */
const KNOWN_STATUSES = [200, 201, 400, 401, 403, 404, 405, 409, 413, 415];

/** mulberry32: small and seedable, so the same seed generates the same suite. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  label: string;
  request: RawRequest;
  /** The statuses this case may get; absent for fuzz, which only has to keep the general rules. */
  expect?: number[];
  /** A 400 that must name these fields in `errors`. */
  fields?: string[];
}

interface Seed {
  id: string;
  jobId: string;
  instanceName: string;
  databaseName: string;
}

interface Context {
  stack: Stack;
  /** Instances whose create stays queued; requests may rename them (instanceName only). */
  seeds: Seed[];
  /** An instance no request may change, so that conflicts with its names are certain. */
  fixed: Seed;
  client: NewClient;
  random: () => number;
}

/** Letters swapped for look-alikes; each turns an acceptable database name into one that must be refused. */
const LOOK_ALIKES: [string, string, string][] = [
  ['Cyrillic а', 'a', '\u0430'],
  ['Cyrillic е', 'e', '\u0435'],
  ['Cyrillic о', 'o', '\u043e'],
  ['Cyrillic с', 'c', '\u0441'],
  ['Cyrillic Т', 'T', '\u0422'],
  ['Cyrillic К', 'K', '\u041a'],
  ['Greek ο', 'o', '\u03bf'],
  ['Greek Κ', 'K', '\u039a'],
  ['Greek ι', 'i', '\u03b9'],
  ['fullwidth ａ', 'a', '\uff41'],
  ['fullwidth Ｔ', 'T', '\uff34'],
  ['fullwidth ＿', '_', '\uff3f'],
  ['fullwidth １', '1', '\uff11'],
  ['dotless ı', 'i', '\u0131'],
  ['long s ſ', 's', '\u017f'],
  ['Kelvin sign', 'K', '\u212a'],
  ['mathematical bold 𝐚', 'a', '\ud835\udc1a'],
  ['small capital ᴀ', 'a', '\u1d00'],
  ['Latin ɑ', 'a', '\u0251'],
  ['precomposed é', 'e', '\u00e9'],
  ['decomposed é', 'e', 'e\u0301'],
  ['superscript ¹', '1', '\u00b9'],
];

/** Characters that render as nothing, or reorder or decorate their neighbours. */
const INVISIBLES: [string, string][] = [
  ['zero-width joiner', '\u200d'],
  ['zero-width non-joiner', '\u200c'],
  ['zero-width space', '\u200b'],
  ['word joiner', '\u2060'],
  ['byte order mark', '\ufeff'],
  ['soft hyphen', '\u00ad'],
  ['left-to-right mark', '\u200e'],
  ['right-to-left mark', '\u200f'],
  ['right-to-left override', '\u202e'],
  ['left-to-right embedding', '\u202a'],
  ['Arabic letter mark', '\u061c'],
  ['combining acute', '\u0301'],
  ['combining ring', '\u030a'],
  ['combining long stroke', '\u0336'],
  ['no-break space', '\u00a0'],
  ['Mongolian vowel separator', '\u180e'],
  ['Hangul filler', '\u3164'],
  ['variation selector 16', '\ufe0f'],
  ['tag letter A', '\udb40\udc41'],
  ['NUL', '\u0000'],
];

const MALFORMED_JSON = [
  '{',
  '}',
  '[',
  '{"instanceName":}',
  '{"instanceName":"a",}',
  '[1,2',
  "{'instanceName':'a'}",
  'NaN',
  'undefined',
  'nul',
  '{"a":01}',
  '{"a":"\u0000"}',
  '{"a":"line\nbreak"}',
  '{"a":1}{"b":2}',
  '{"a":1} x',
  '"just a string"',
  '123',
  'true',
  'null',
  '/* comment */ {}',
  '{"a":Infinity}',
  '{"a":-Infinity}',
  '{"a" 1}',
  '{,}',
  '{"a":1 "b":2}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":tru}',
  ' ',
  '\n\t',
  '{"instanceName":"a","databaseName":"b"',
  '\u0000',
  '<xml/>',
  'instanceName=a&databaseName=b',
];

const WRONG_TYPES: [string, string][] = [
  ['zero', '0'],
  ['a float', '1.5'],
  ['a negative number', '-1'],
  ['true', 'true'],
  ['false', 'false'],
  ['null', 'null'],
  ['an empty array', '[]'],
  ['an empty object', '{}'],
  ['an array of a string', '["x"]'],
  ['an object', '{"x":1}'],
  ['a Mongo operator', '{"$ne":null}'],
  ['a huge number', '1e400'],
  ['negative zero', '-0'],
  ['an array of arrays', '[[[]]]'],
];

const UNKNOWN_FIELDS = [
  'id',
  'status',
  'engine',
  'createdBy',
  'createdAt',
  'updatedAt',
  'deletedAt',
  'lastError',
  'previousDatabaseName',
  'job',
  '_links',
  'databsaeName',
  'instancename',
  'DatabaseName',
  'INSTANCENAME',
  'instance_name',
  'database_name',
  '$where',
  '',
  ' ',
  'instanceName ',
  'databaseName\u200b',
];

const RESERVED_DATABASE_NAMES = [
  'postgres',
  'POSTGRES',
  'template0',
  'Template1',
  'rdsadmin',
  'azure_maintenance',
  'azure_sys',
  'cloudsqladmin',
  'EdFi_Admin',
  'edfi_security',
  EDFI_TEMPLATE,
  EDFI_TEMPLATE.toUpperCase(),
  'odsim_staging_x',
  'ODSIM_STAGING_abc',
];

/** Builds the whole suite up front, from the seed alone. */
function generateCases(ctx: Context): Case[] {
  const { stack, seeds, fixed, client, random } = ctx;
  const firstSeed = seeds[0];
  if (!firstSeed) throw new Error('generateCases needs at least one seed');
  const cases: Case[] = [];
  let counter = 0;
  /** A tag no other case uses, so valid creates never collide with each other. */
  const tag = () => `h${(counter++).toString(36)}`;
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(random() * items.length)]!; // random() is in [0, 1)
  };
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const seed = () => pick(seeds);
  const bearer = (token = stack.tokens.full) => ({ authorization: `Bearer ${token}` });
  const jsonHeaders = (contentType = 'application/json') => ({ ...bearer(), 'content-type': contentType });
  const validName = () => `Hostile ${stack.id} ${tag()}`;
  const validDb = () => stack.db(tag());
  const add = (label: string, request: RawRequest, expected?: number[], fields?: string[]) => {
    cases.push({ label, request, expect: expected, fields });
  };
  const postInstance = (
    label: string,
    body: string,
    expected: number[],
    fields?: string[],
    contentType = 'application/json',
  ) =>
    add(
      `POST /admin/instances ${label}`,
      { method: 'POST', path: '/admin/instances', headers: jsonHeaders(contentType), body },
      expected,
      fields,
    );
  const putSeed = (
    label: string,
    body: string,
    expected: number[],
    fields?: string[],
    contentType = 'application/json',
  ) =>
    add(
      `PUT seed ${label}`,
      { method: 'PUT', path: `/admin/instances/${seed().id}`, headers: jsonHeaders(contentType), body },
      expected,
      fields,
    );
  const tokenForm = (label: string, body: string, expected: number[], headers: Record<string, string> = {}) =>
    add(
      `POST /connect/token ${label}`,
      {
        method: 'POST',
        path: '/connect/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      },
      expected,
    );
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const good = { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret };

  /** One of each route; the JSON parser runs before routing and authentication, so every one reads a body. */
  const bodyRoutes = (): { method: string; path: string; token?: boolean }[] => [
    { method: 'POST', path: '/admin/instances' },
    { method: 'PUT', path: `/admin/instances/${seed().id}` },
    { method: 'DELETE', path: `/admin/instances/${seed().id}` },
    { method: 'GET', path: '/admin/instances' },
    { method: 'GET', path: `/admin/instances/${seed().id}` },
    { method: 'GET', path: `/admin/instances/${seed().id}/jobs` },
    { method: 'GET', path: `/admin/jobs/${seed().jobId}` },
    { method: 'POST', path: '/connect/token', token: false },
    { method: 'GET', path: '/health/live', token: false },
    { method: 'GET', path: '/health/ready', token: false },
  ];

  // Bodies over the limit: 413 on every route, before authentication, whatever the JSON says.
  for (const route of bodyRoutes()) {
    for (const size of [
      BODY_LIMIT + 1,
      BODY_LIMIT + 2,
      between(BODY_LIMIT + 3, 20_000),
      between(20_000, 40_000),
      between(40_000, 64_000),
    ]) {
      const filler = 'x'.repeat(size - '{"instanceName":""}'.length);
      const contentType = pick(['application/json', 'application/json; charset=utf-8', 'application/merge-patch+json']);
      add(
        `${route.method} ${route.path} with a ${size}-byte ${contentType} body`,
        {
          method: route.method,
          path: route.path,
          headers: { ...(route.token === false ? {} : bearer()), 'content-type': contentType },
          body: `{"instanceName":"${filler}"}`,
        },
        [413],
      );
    }
    const array = `[${Array.from({ length: BODY_LIMIT / 2 + between(10, 5000) }, () => '0').join(',')}]`;
    add(
      `${route.method} ${route.path} with a huge array over the limit`,
      {
        method: route.method,
        path: route.path,
        headers: { ...bearer(), 'content-type': 'application/json' },
        body: array,
      },
      [413],
    );
  }
  add(
    'POST /admin/instances over the limit without a token',
    {
      method: 'POST',
      path: '/admin/instances',
      headers: { 'content-type': 'application/json' },
      body: `{"a":"${'x'.repeat(BODY_LIMIT)}"}`,
    },
    [413],
  );
  for (const size of [BODY_LIMIT + 1, between(BODY_LIMIT + 2, 60_000)]) {
    tokenForm(`with a ${size}-byte form`, `${form(good)}&pad=${'x'.repeat(size - form(good).length - 5)}`, [413]);
  }
  // Exactly at the limit is read (and then refused for what it says).
  postInstance(
    'of exactly the limit',
    `{"instanceName":"${'x'.repeat(BODY_LIMIT - '{"instanceName":""}'.length)}"}`,
    [400],
    ['instanceName'],
  );

  // Malformed JSON: 400 on every route that reads a body.
  for (const text of MALFORMED_JSON) {
    for (const route of bodyRoutes()) {
      add(
        `${route.method} ${route.path} with malformed JSON ${JSON.stringify(text)}`,
        {
          method: route.method,
          path: route.path,
          headers: { ...(route.token === false ? {} : bearer()), 'content-type': 'application/json' },
          body: text,
        },
        [400],
      );
    }
  }

  // Wrong types, per field.
  for (const [what, value] of WRONG_TYPES) {
    postInstance(
      `with instanceName ${what}`,
      `{"instanceName":${value},"databaseName":"${validDb()}"}`,
      [400],
      ['instanceName'],
    );
    postInstance(
      `with databaseName ${what}`,
      `{"instanceName":"${validName()}","databaseName":${value}}`,
      [400],
      ['databaseName'],
    );
    postInstance(
      `with both ${what}`,
      `{"instanceName":${value},"databaseName":${value}}`,
      [400],
      ['instanceName', 'databaseName'],
    );
    putSeed(`with instanceName ${what}`, `{"instanceName":${value}}`, [400], ['instanceName']);
    putSeed(`with databaseName ${what}`, `{"databaseName":${value}}`, [400], ['databaseName']);
    putSeed(
      `with a valid instanceName and databaseName ${what}`,
      `{"instanceName":"${validName()}","databaseName":${value}}`,
      [400],
      ['databaseName'],
    );
    for (const field of ['grant_type', 'client_id', 'client_secret', 'scope']) {
      add(
        `POST /connect/token JSON with ${field} ${what}`,
        {
          method: 'POST',
          path: '/connect/token',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...good, [field]: null }).replace('null', value),
        },
        [400],
      );
    }
  }

  // Unknown fields: never silently ignored, whatever their value.
  for (const field of UNKNOWN_FIELDS) {
    const value = pick(['"Created"', '1', 'null', 'true', '{}', '[]', '"x"']);
    postInstance(
      `with unknown field ${JSON.stringify(field)}`,
      `{"instanceName":"${validName()}","databaseName":"${validDb()}",${JSON.stringify(field)}:${value}}`,
      [400],
      [field],
    );
    putSeed(
      `with unknown field ${JSON.stringify(field)}`,
      `{"instanceName":"${validName()}",${JSON.stringify(field)}:${value}}`,
      [400],
      [field],
    );
    putSeed(`with only unknown field ${JSON.stringify(field)}`, `{${JSON.stringify(field)}:${value}}`, [400], [field]);
  }

  // Deeply nested values, as a field and as the whole body.
  for (let i = 0; i < 40; i += 1) {
    const depth = pick([2, 3, 10, 100, between(100, 1000), between(1000, 2500)]);
    const nested =
      random() < 0.5 ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const place = pick(['instanceName', 'databaseName', 'unknown', 'whole']);
    const body =
      place === 'whole'
        ? nested
        : place === 'unknown'
          ? `{"instanceName":"${validName()}","databaseName":"${validDb()}","extra":${nested}}`
          : place === 'instanceName'
            ? `{"instanceName":${nested},"databaseName":"${validDb()}"}`
            : `{"instanceName":"${validName()}","databaseName":${nested}}`;
    postInstance(`nested ${depth} deep in ${place}`, body, [400]);
    putSeed(`nested ${depth} deep in ${place}`, place === 'databaseName' ? `{"databaseName":${nested}}` : body, [400]);
    add(
      `POST /connect/token JSON nested ${depth} deep in client_id`,
      {
        method: 'POST',
        path: '/connect/token',
        headers: { 'content-type': 'application/json' },
        body: `{"grant_type":"client_credentials","client_id":${nested},"client_secret":"x"}`,
      },
      [400],
    );
    add(
      `GET /admin/instances ignores a body nested ${depth} deep`,
      {
        method: 'GET',
        path: '/admin/instances?limit=1',
        headers: jsonHeaders(),
        body: nested,
      },
      [200],
    );
  }

  // Huge arrays within the limit.
  for (let i = 0; i < 20; i += 1) {
    const length = between(100, 7000);
    const element = pick(['0', '"a"', 'null', '{}']);
    const array = `[${Array.from({ length }, () => element).join(',')}]`
      .slice(0, BODY_LIMIT - 200)
      .replace(/,[^,]*$/, ']');
    const field = pick(['instanceName', 'databaseName', 'status']);
    postInstance(
      `with ${field} a ${length}-element array`,
      `{"instanceName":"${validName()}","databaseName":"${validDb()}","${field}":${array}}`,
      [400],
      [field],
    );
    putSeed(`with ${field} a ${length}-element array`, `{"${field}":${array}}`, [400], [field]);
    postInstance(`whose body is a ${length}-element array`, array, [400]);
  }

  // Unicode look-alikes and invisible characters in databaseName: refused with 400, never created, never a 409.
  const lookAlikeBases = () => [`${validDb()}_Tacos_Kilo1e`, seed().databaseName, `${stack.db('')}odsim_Tacos_Kilo1e`];
  for (const [what, letter, replacement] of LOOK_ALIKES) {
    for (const base of lookAlikeBases()) {
      const positions = [...base].map((c, i) => (c === letter ? i : -1)).filter((i) => i >= 0);
      const at = positions.length ? pick(positions) : base.length;
      const chars = [...base];
      if (positions.length) chars[at] = replacement;
      else chars.push(replacement);
      const name = chars.join('');
      postInstance(
        `with a ${what} in databaseName ${JSON.stringify(name)}`,
        JSON.stringify({ instanceName: validName(), databaseName: name }),
        [400],
        ['databaseName'],
      );
      putSeed(
        `with a ${what} in databaseName ${JSON.stringify(name)}`,
        JSON.stringify({ databaseName: name }),
        [400],
        ['databaseName'],
      );
    }
  }
  for (const [what, char] of INVISIBLES) {
    for (const base of lookAlikeBases()) {
      const at = between(0, base.length);
      const name = base.slice(0, at) + char + base.slice(at);
      postInstance(
        `with a ${what} in databaseName at ${at}`,
        JSON.stringify({ instanceName: validName(), databaseName: name }),
        [400],
        ['databaseName'],
      );
      putSeed(
        `with a ${what} in databaseName at ${at}`,
        JSON.stringify({ databaseName: name }),
        [400],
        ['databaseName'],
      );
    }
    postInstance(
      `with a ${what} in databaseName of a reserved name`,
      JSON.stringify({ instanceName: validName(), databaseName: `post${char}gres` }),
      [400],
      ['databaseName'],
    );
  }
  for (const [what, letter, replacement] of LOOK_ALIKES.slice(0, 8)) {
    postInstance(
      `with a ${what} in the reserved name postgres`,
      JSON.stringify({
        instanceName: validName(),
        databaseName: 'postgres'.replace(letter, replacement).replace('o', '\u043e'),
      }),
      [400],
      ['databaseName'],
    );
  }

  // instanceName at and past its limit of 100 characters, counted as PostgreSQL counts them (code points).
  for (const [what, unit] of [
    ['ASCII', 'n'],
    ['two-byte é', '\u00e9'],
    ['three-byte 漢', '\u6f22'],
    ['emoji', '\u{1f600}'],
    ['letter with variation selector', 'a\ufe0f'],
    ['letter with combining accent', 'e\u0301'],
    ['Cyrillic', '\u0436'],
  ] as const) {
    for (const codePoints of [99, 100, 101, 102, 150]) {
      const prefix = `${tag()} `;
      const units = Math.floor((codePoints - [...prefix].length) / [...unit].length);
      const pad = codePoints - [...prefix].length - units * [...unit].length;
      const name = prefix + 'p'.repeat(pad) + unit.repeat(units);
      expect([...name].length).to.equal(codePoints);
      // Counted once normalised: NFC composes a letter and its combining accent into one.
      const ok = [...name.normalize('NFC')].length <= 100;
      postInstance(
        `with a ${codePoints}-character ${what} instanceName`,
        JSON.stringify({ instanceName: name, databaseName: validDb() }),
        ok ? [201] : [400],
        ok ? undefined : ['instanceName'],
      );
      const renamed = `${tag()}${name.slice(name.indexOf(' '))}`;
      putSeed(
        `with a ${[...renamed].length}-character ${what} instanceName`,
        JSON.stringify({ instanceName: renamed }),
        [...renamed.normalize('NFC')].length <= 100 ? [200] : [400],
      );
    }
  }
  for (const name of [
    '',
    ' ',
    '   ',
    '\t',
    '\n',
    'a\u0000',
    'tab\there',
    'line\nbreak',
    'sep\u2028',
    'del\u007f',
    'c1\u0085',
    'lone \ud800',
    'lone \udc00 low',
    '\ud83d',
  ]) {
    postInstance(
      `with instanceName ${JSON.stringify(name)}`,
      JSON.stringify({ instanceName: name, databaseName: validDb() }),
      [400],
      ['instanceName'],
    );
    putSeed(
      `with instanceName ${JSON.stringify(name)}`,
      JSON.stringify({ instanceName: name }),
      [400],
      ['instanceName'],
    );
  }

  // databaseName at and past its limits: 63 bytes on PostgreSQL (which would silently truncate), 128 in the body.
  const sized = (bytes: number, fill = 'a') => {
    const head = validDb() + '_';
    return head + fill.repeat(Math.max(0, bytes - Buffer.byteLength(head)));
  };
  for (const bytes of [62, 63])
    postInstance(
      `with a ${bytes}-byte databaseName`,
      JSON.stringify({ instanceName: validName(), databaseName: sized(bytes) }),
      [201],
    );
  for (const bytes of [64, 65, 100, 128, 129, 200, 1000]) {
    postInstance(
      `with a ${bytes}-byte databaseName`,
      JSON.stringify({ instanceName: validName(), databaseName: sized(bytes) }),
      [400],
      ['databaseName'],
    );
    putSeed(
      `with a ${bytes}-byte databaseName`,
      JSON.stringify({ databaseName: sized(bytes) }),
      [400],
      ['databaseName'],
    );
  }
  putSeed('with a 63-byte databaseName while its create is queued', JSON.stringify({ databaseName: sized(63) }), [409]);
  const multiByte = (head: string, char: string, bytes: number) =>
    head + char.repeat(Math.floor((bytes - Buffer.byteLength(head)) / Buffer.byteLength(char)));
  for (const char of ['\u00e9', '\u6f22', '\u{1f600}']) {
    for (const bytes of [60, 63, 64]) {
      const name = multiByte(validDb(), char, bytes);
      postInstance(
        `with a ${Buffer.byteLength(name)}-byte databaseName of ${name.length} UTF-16 units`,
        JSON.stringify({ instanceName: validName(), databaseName: name }),
        [400],
        ['databaseName'],
      );
    }
  }
  for (const name of RESERVED_DATABASE_NAMES.concat(`odsim_t_${stack.id}`, `ODSIM_T_${stack.id.toUpperCase()}`)) {
    postInstance(
      `with reserved databaseName ${name}`,
      JSON.stringify({ instanceName: validName(), databaseName: name }),
      [400],
      ['databaseName'],
    );
    putSeed(`with reserved databaseName ${name}`, JSON.stringify({ databaseName: name }), [400], ['databaseName']);
  }
  for (const name of ['', '1abc', '_abc', 'a-b', 'a.b', 'a b', 'a$b', 'a"b', "a'b", 'a;b', 'a\\b', '\u00e9cole']) {
    postInstance(
      `with malformed databaseName ${JSON.stringify(name)}`,
      JSON.stringify({ instanceName: validName(), databaseName: name }),
      [400],
      ['databaseName'],
    );
  }
  for (const s of [...seeds, fixed]) {
    postInstance(
      `with the databaseName of ${s.databaseName} in another case`,
      JSON.stringify({ instanceName: validName(), databaseName: s.databaseName.toUpperCase() }),
      [409],
    );
  }
  for (const instanceName of [fixed.instanceName, fixed.instanceName.toUpperCase(), fixed.instanceName.toLowerCase()]) {
    postInstance(
      `with the instanceName ${JSON.stringify(instanceName)} already in use`,
      JSON.stringify({ instanceName, databaseName: validDb() }),
      [409],
    );
    putSeed(
      `renamed to the instanceName ${JSON.stringify(instanceName)} already in use`,
      JSON.stringify({ instanceName }),
      [409],
    );
  }

  // SQL fragments in every field, path parameter, query parameter and header.
  for (const payload of SQL_PAYLOADS) {
    const p = JSON.stringify(payload);
    const name = `${payload} ${tag()}`;
    postInstance(
      `with SQL instanceName ${p}`,
      JSON.stringify({ instanceName: name, databaseName: validDb() }),
      isValidInstanceName(name) ? [201] : [400],
    );
    const renamed = `${payload} ${tag()}`;
    putSeed(
      `with SQL instanceName ${p}`,
      JSON.stringify({ instanceName: renamed }),
      isValidInstanceName(renamed) ? [200] : [400],
    );
    if (/[^A-Za-z0-9_]/.test(payload)) {
      for (const databaseName of [payload, `${validDb()}${payload}`, `${payload}${validDb()}`]) {
        postInstance(
          `with SQL databaseName ${JSON.stringify(databaseName)}`,
          JSON.stringify({ instanceName: validName(), databaseName }),
          [400],
          ['databaseName'],
        );
        putSeed(
          `with SQL databaseName ${JSON.stringify(databaseName)}`,
          JSON.stringify({ databaseName }),
          [400],
          ['databaseName'],
        );
      }
    }
    for (const id of [payload, `${seed().id}${payload}`, `${seed().jobId}${payload}`]) {
      const enc = encodeURIComponent(id);
      add(
        `GET instance ${JSON.stringify(id)}`,
        { method: 'GET', path: `/admin/instances/${enc}`, headers: bearer() },
        [404],
      );
      add(
        `PUT instance ${JSON.stringify(id)}`,
        {
          method: 'PUT',
          path: `/admin/instances/${enc}`,
          headers: jsonHeaders(),
          body: JSON.stringify({ instanceName: validName() }),
        },
        [404],
      );
      add(
        `DELETE instance ${JSON.stringify(id)}`,
        { method: 'DELETE', path: `/admin/instances/${enc}`, headers: bearer() },
        [404],
      );
      add(
        `GET jobs of instance ${JSON.stringify(id)}`,
        { method: 'GET', path: `/admin/instances/${enc}/jobs`, headers: bearer() },
        [404],
      );
      add(`GET job ${JSON.stringify(id)}`, { method: 'GET', path: `/admin/jobs/${enc}`, headers: bearer() }, [404]);
    }
    const numeric = /^[\s\d.+\-eExX]*$/.test(payload);
    for (const field of ['offset', 'limit']) {
      add(
        `GET list with ${field}=${p}`,
        { method: 'GET', path: `/admin/instances?${field}=${encodeURIComponent(payload)}`, headers: bearer() },
        numeric ? [200, 400] : [400],
      );
    }
    for (const field of ['status', 'includeDeleted']) {
      add(
        `GET list with ${field}=${p}`,
        { method: 'GET', path: `/admin/instances?${field}=${encodeURIComponent(payload)}`, headers: bearer() },
        [400],
        [field],
      );
    }
    add(
      `GET list with instanceName=${p}`,
      { method: 'GET', path: `/admin/instances?instanceName=${encodeURIComponent(payload)}`, headers: bearer() },
      /[\u0000-\u001f]/.test(payload) ? [400] : [200],
    );
    tokenForm(`with SQL client_id ${p}`, form({ ...good, client_id: payload }), [401]);
    tokenForm(`with SQL client_secret ${p}`, form({ ...good, client_secret: payload }), [401]);
    tokenForm(`with SQL scope ${p}`, form({ ...good, scope: payload }), [400]);
    tokenForm(`with SQL grant_type ${p}`, form({ ...good, grant_type: payload }), [400]);
    if (/^[\t\x20-\x7e\x80-\xff]+$/.test(payload)) {
      add(
        `GET /health/live with X-Request-Id ${p}`,
        { method: 'GET', path: '/health/live', headers: { 'x-request-id': payload } },
        [200],
      );
      add(
        `GET /admin/instances with X-Request-Id ${p}`,
        { method: 'GET', path: '/admin/instances?limit=1', headers: { ...bearer(), 'x-request-id': payload } },
        [200],
      );
      add(
        `GET /admin/instances with bearer ${p}`,
        { method: 'GET', path: '/admin/instances', headers: { authorization: `Bearer ${payload}` } },
        [401],
      );
    }
  }

  // Path parameters that are not even valid percent-encoding, and other odd paths.
  for (const raw of ['%', '%%', '%zz', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', 'abc%', '%u0041']) {
    for (const path of [`/admin/instances/${raw}`, `/admin/instances/${raw}/jobs`, `/admin/jobs/${raw}`]) {
      add(`GET ${path}`, { method: 'GET', path, headers: bearer() }, [400]);
    }
    add(
      `PUT /admin/instances/${raw}`,
      { method: 'PUT', path: `/admin/instances/${raw}`, headers: jsonHeaders(), body: '{"instanceName":"x"}' },
      [400],
    );
    add(
      `DELETE /admin/instances/${raw}`,
      { method: 'DELETE', path: `/admin/instances/${raw}`, headers: bearer() },
      [400],
    );
    add(
      `GET /admin/instances?instanceName=${raw}`,
      { method: 'GET', path: `/admin/instances?instanceName=${raw}`, headers: bearer() },
      [200],
    );
    add(`GET /health/live?${raw}=${raw}`, { method: 'GET', path: `/health/live?${raw}=${raw}`, headers: {} }, [200]);
  }
  for (const path of [
    '/admin/instances/..%2F..%2Fjobs',
    '/admin/instances/%2E%2E',
    `/admin/instances/${'a'.repeat(4000)}`,
    `/admin/jobs/${'0'.repeat(4000)}`,
    `/admin/instances/${firstSeed.id}/jobs/extra`,
    '/admin/instances/a/b',
    '/admin',
    '/admin/',
    `/admin/instances/${firstSeed.id.toUpperCase()}x`,
    '/admin/instances/%00',
    `/admin/instances/${firstSeed.id}%00`,
    '/admin/instances/%20',
  ]) {
    add(`GET ${path.slice(0, 80)}`, { method: 'GET', path, headers: bearer() }, [404]);
  }
  for (const [path, expected] of [
    ['/health/live/', [200]],
    ['/HEALTH/LIVE', [200]],
    ['/health', [404]],
    ['/health/', [404]],
    ['/health/nope', [404]],
    ['/health/live/x', [404]],
    ['/', [200]], // the web UI's page
    ['/admin/jobs', [200]], // every instance's jobs
    ['/admin/jobs/', [200]],
    ['/admin/jobs?status=failed%27%20OR%201=1--', [400]],
    ['/app/../package.json', [404]],
    ['/app/%2e%2e/%2e%2e/package.json', [404]],
    ['/connect', [404]],
    ['/admin//instances', [200, 404]],
    ['/admin/instances//', [200, 404]],
  ] as const) {
    add(`GET ${path}`, { method: 'GET', path, headers: bearer() }, [...expected]);
  }
  for (const [method, path, expected] of [
    ['PATCH', `/admin/instances/${firstSeed.id}`, [405]],
    ['POST', `/admin/instances/${firstSeed.id}`, [405]],
    ['PUT', '/admin/instances', [405]],
    ['DELETE', '/admin/instances', [405]],
    ['POST', `/admin/jobs/${firstSeed.jobId}`, [405]],
    ['DELETE', `/admin/jobs/${firstSeed.jobId}`, [405]],
    ['GET', '/connect/token', [405]],
    ['PUT', '/connect/token', [405]],
    ['POST', '/health/live', [405]],
    ['DELETE', '/health/ready', [405]],
  ] as const) {
    add(`${method} ${path}`, { method, path, headers: jsonHeaders(), body: '{}' }, [...expected]);
  }

  // Odd content types.
  for (const [contentType, expected] of [
    ['application/json', [201]],
    ['application/json; charset=utf-8', [201]],
    ['application/json;charset=UTF-8', [201]],
    ['APPLICATION/JSON', [201]],
    ['application/vnd.api+json', [201]],
    ['application/merge-patch+json', [201]],
    ['application/problem+json', [201]],
    ['text/plain', [415]],
    ['text/json', [415]],
    ['text/html', [415]],
    ['application/xml', [415]],
    ['multipart/form-data; boundary=x', [415]],
    ['application/x-www-form-urlencoded', [415]],
    ['application/octet-stream', [415]],
    ['application/jsonx', [415]],
    ['json', [415]],
    ['application/json, text/plain', [415]],
    ['application/json; charset=latin1', [415]],
    ['application/json; charset=bogus', [415]],
    ['application/json; charset=utf-16', [400, 415]],
    ['*/*', [415]],
    ['application/*', [415]],
    ['application/json; boundary=x', [201]],
    ['application/json;;;', [201, 400, 415]],
    ['application/json; charset="utf-8"', [201]],
  ] as const) {
    postInstance(
      `as ${contentType}`,
      JSON.stringify({ instanceName: validName(), databaseName: validDb() }),
      [...expected],
      undefined,
      contentType,
    );
    putSeed(
      `as ${contentType}`,
      JSON.stringify({ instanceName: validName() }),
      expected.map((s) => (s === 201 ? 200 : s)),
      undefined,
      contentType,
    );
    add(
      `GET /admin/instances as ${contentType} without a body`,
      { method: 'GET', path: '/admin/instances?limit=1', headers: { ...bearer(), 'content-type': contentType } },
      [200],
    );
  }
  add(
    'POST /admin/instances with a body and no Content-Type',
    {
      method: 'POST',
      path: '/admin/instances',
      headers: bearer(),
      body: JSON.stringify({ instanceName: validName(), databaseName: validDb() }),
    },
    [415],
  );
  add(
    'PUT seed with a body and no Content-Type',
    {
      method: 'PUT',
      path: `/admin/instances/${seed().id}`,
      headers: bearer(),
      body: JSON.stringify({ instanceName: validName() }),
    },
    [415],
  );
  for (const [contentType, expected] of [
    ['application/json', [200]],
    ['text/plain', [400]],
    ['multipart/form-data; boundary=x', [400]],
    ['application/xml', [400]],
  ] as const) {
    add(
      `POST /connect/token as ${contentType}`,
      {
        method: 'POST',
        path: '/connect/token',
        headers: { 'content-type': contentType },
        body: contentType === 'application/json' ? JSON.stringify(good) : form(good),
      },
      [...expected],
    );
  }

  // Duplicated and oddly shaped query parameters.
  for (const query of [
    'limit=1&limit=2',
    'limit=1&limit=1',
    'offset=0&offset=0',
    'offset=0&offset=1',
    'status=Created&status=PendingCreate',
    'instanceName=a&instanceName=a',
    'instanceName=a&instanceName=b',
    'includeDeleted=true&includeDeleted=true',
    'includeDeleted=true&includeDeleted=false',
    'limit=1&LIMIT=2',
    'limit[]=1',
    'limit[0]=1',
    'limit.x=1',
    'instanceName[]=a',
    'instanceName[$ne]=x',
    `${'limit=1&'.repeat(50)}limit=1`,
    'sort=instanceName',
    'limit=',
    'status=',
    'includeDeleted=',
    'instanceName=',
    'limit=abc',
    'limit=1.5',
    'limit=-5',
    'limit=501',
    'offset=-1',
    'offset=1000001',
    'limit=1e400',
    'status=created',
    'includeDeleted=TRUE',
  ]) {
    add(
      `GET /admin/instances?${query.slice(0, 60)}`,
      { method: 'GET', path: `/admin/instances?${query}`, headers: bearer() },
      [400],
    );
  }
  for (const query of [
    '',
    '?',
    '?&&&',
    '?limit=1&offset=0',
    '?limit=500&offset=1000000',
    '?status=PendingCreate&includeDeleted=false',
    '?instanceName=Hostile',
  ]) {
    add(`GET /admin/instances${query}`, { method: 'GET', path: `/admin/instances${query}`, headers: bearer() }, [200]);
  }
  for (const query of ['x=1&x=2', 'limit=1&limit=2', '=', '&&', 'a[b][c]=d']) {
    add(`GET /health/live?${query}`, { method: 'GET', path: `/health/live?${query}`, headers: {} }, [200]);
  }
  for (const [field, value] of Object.entries({ ...good, scope: SCOPES.fullAccess })) {
    const once = field === 'scope' ? form({ ...good, scope: value }) : form(good);
    tokenForm(`with ${field} twice`, `${once}&${field}=${encodeURIComponent(value)}`, [400]);
  }

  // Empty bodies.
  add('POST /admin/instances with no body', { method: 'POST', path: '/admin/instances', headers: bearer() }, [400]);
  postInstance('with an empty JSON body', '', [400]);
  postInstance('with {}', '{}', [400], ['instanceName', 'databaseName']);
  postInstance('with []', '[]', [400]);
  add('PUT seed with no body', { method: 'PUT', path: `/admin/instances/${seed().id}`, headers: bearer() }, [400]);
  putSeed('with an empty JSON body', '', [400]);
  putSeed('with {}', '{}', [400], ['body']);
  add(
    'DELETE seed with an empty JSON body (its create is still queued)',
    { method: 'DELETE', path: `/admin/instances/${seed().id}`, headers: jsonHeaders(), body: '' },
    [409],
  );
  tokenForm('with an empty form', '', [400]);
  add(
    'POST /connect/token with an empty JSON body',
    { method: 'POST', path: '/connect/token', headers: { 'content-type': 'application/json' }, body: '' },
    [400],
  );
  add('POST /connect/token with no body', { method: 'POST', path: '/connect/token', headers: {} }, [400]);

  // Authentication.
  const noneToken = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', scope: SCOPES.fullAccess, exp: 9_999_999_999 })).toString('base64url')}.`;
  for (const [what, authorization] of [
    ['no token', undefined],
    ['an empty Bearer', 'Bearer'],
    ['a blank Bearer', 'Bearer  '],
    ['a non-JWT', 'Bearer abc'],
    ['three dots', 'Bearer x.y.z'],
    ['Basic', `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`],
    ['alg none', `Bearer ${noneToken}`],
    ['a tampered token', `Bearer ${stack.tokens.full}x`],
    ['two tokens', `Bearer ${stack.tokens.full} ${stack.tokens.full}`],
  ] as const) {
    for (const [method, path] of [
      ['GET', '/admin/instances'],
      ['POST', '/admin/instances'],
      ['GET', `/admin/jobs/${firstSeed.jobId}`],
      ['DELETE', `/admin/instances/${firstSeed.id}`],
    ] as const) {
      add(
        `${method} ${path} with ${what}`,
        {
          method,
          path,
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body: method === 'POST' ? JSON.stringify({ instanceName: validName(), databaseName: validDb() }) : undefined,
        },
        [401],
      );
    }
  }
  add(
    'POST /admin/instances with a read-only token',
    {
      method: 'POST',
      path: '/admin/instances',
      headers: { ...bearer(stack.tokens.read), 'content-type': 'application/json' },
      body: JSON.stringify({ instanceName: validName(), databaseName: validDb() }),
    },
    [403],
  );
  add(
    'PUT seed with a read-only token',
    {
      method: 'PUT',
      path: `/admin/instances/${seed().id}`,
      headers: { ...bearer(stack.tokens.read), 'content-type': 'application/json' },
      body: JSON.stringify({ instanceName: validName() }),
    },
    [403],
  );
  add(
    'DELETE seed with a read-only token',
    { method: 'DELETE', path: `/admin/instances/${seed().id}`, headers: bearer(stack.tokens.read) },
    [403],
  );
  add(
    'GET /admin/instances with a read-only token',
    { method: 'GET', path: '/admin/instances', headers: bearer(stack.tokens.read) },
    [200],
  );
  add(
    'GET /admin/instances with a lower-case scheme',
    { method: 'GET', path: '/admin/instances', headers: { authorization: `bearer ${stack.tokens.full}` } },
    [200],
  );

  // Fuzz: random routes, bodies, content types and queries, held only to the general rules.
  const fragments = [
    ...SQL_PAYLOADS,
    ...LOOK_ALIKES.map(([, , c]) => c),
    ...INVISIBLES.map(([, c]) => c),
    'a',
    'Z',
    '0',
    '_',
    '%',
    '"',
    '\\',
    ' ',
    '\u{1f600}',
    '\u00e9',
    '\n',
  ];
  const randomString = (): string => Array.from({ length: between(0, 6) }, () => pick(fragments)).join('');
  const randomValue = (depth: number): unknown => {
    const kind = between(0, depth > 3 ? 4 : 7);
    switch (kind) {
      case 0:
        return randomString();
      case 1:
        return between(-1000, 1000) * (random() < 0.2 ? 0.5 : 1);
      case 2:
        return random() < 0.5;
      case 3:
        return null;
      case 4:
        return randomString() + randomString();
      case 5:
        return Array.from({ length: between(0, 4) }, () => randomValue(depth + 1));
      default:
        return Object.fromEntries(
          Array.from({ length: between(0, 4) }, () => [
            pick([...UNKNOWN_FIELDS, 'instanceName', 'databaseName', randomString()]),
            randomValue(depth + 1),
          ]),
        );
    }
  };
  const randomBody = (): string | undefined => {
    switch (between(0, 5)) {
      case 0:
        return undefined;
      case 1:
        return JSON.stringify(randomValue(0));
      case 2:
        return JSON.stringify({
          instanceName: randomValue(2),
          databaseName: random() < 0.5 ? validDb() + randomString() : randomValue(2),
        });
      case 3:
        return JSON.stringify({ instanceName: `${validName()}${randomString()}`, databaseName: validDb() });
      case 4:
        return pick(MALFORMED_JSON);
      default:
        return JSON.stringify(randomValue(0)).slice(0, between(1, 40));
    }
  };
  const randomPathId = () =>
    encodeURIComponent(pick([seed().id, seed().jobId, randomString(), `${seed().id}${randomString()}`]));
  const randomQuery = () =>
    Array.from(
      { length: between(0, 3) },
      () =>
        `${pick(['offset', 'limit', 'status', 'instanceName', 'includeDeleted', 'x'])}=${encodeURIComponent(pick([randomString(), String(between(-5, 600)), 'Created', 'true']))}`,
    ).join('&');
  for (let i = 0; i < FUZZ_REQUESTS; i += 1) {
    const [method, path] = pick<[string, () => string]>([
      ['POST', () => '/admin/instances'],
      ['GET', () => `/admin/instances?${randomQuery()}`],
      ['GET', () => `/admin/instances/${randomPathId()}`],
      ['PUT', () => `/admin/instances/${randomPathId()}`],
      ['DELETE', () => `/admin/instances/${randomPathId()}`],
      ['GET', () => `/admin/instances/${randomPathId()}/jobs`],
      ['GET', () => `/admin/jobs/${randomPathId()}`],
      ['POST', () => '/connect/token'],
      ['GET', () => '/health/live'],
      ['GET', () => '/health/ready'],
    ]);
    const contentType = pick([
      'application/json',
      'application/json',
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/vnd.api+json',
      undefined,
    ]);
    const token = pick([stack.tokens.full, stack.tokens.full, stack.tokens.full, stack.tokens.read, undefined]);
    const body = randomBody();
    const p = path();
    add(`fuzz ${method} ${p.slice(0, 80)} ${JSON.stringify(body ?? null).slice(0, 80)}`, {
      method,
      path: p,
      body,
      headers: {
        ...(contentType ? { 'content-type': contentType } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
  }
  return cases;
}

describe('hostile input on every route @slow', () => {
  let stack: Stack;
  let client: NewClient;
  const seeds: Seed[] = [];
  let fixed: Seed;
  let databasesBefore: string[];
  let clientsBefore: string[];
  let agent: http.Agent;

  before(async () => {
    stack = await startStack({ worker: false });
    client = await new ClientStore(stack.dataSource).create('hostile', SCOPES.fullAccess);
    for (const suffix of ['seed_a', 'seed_b', 'seed_c', 'fixed']) {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Seed ${stack.id} ${suffix}`, databaseName: stack.db(suffix) },
      });
      expect(r.status).to.equal(201);
      seeds.push({
        id: r.body.id,
        jobId: r.body.job.id,
        instanceName: r.body.instanceName,
        databaseName: r.body.databaseName,
      });
    }
    fixed = seeds.pop()!;
    databasesBefore = await serverDatabases(stack);
    clientsBefore = (await stack.dataSource.getRepository(ApiClientEntity).find())
      .map((c) => `${c.clientId} ${c.scopes} ${c.disabledAt?.toISOString() ?? 'enabled'}`)
      .sort();
    agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  });
  after(async () => {
    agent?.destroy();
    await stack?.stop();
  });

  it(`answers thousands of generated hostile requests without a 5xx, always as problem+json, and changes nothing on the server`, async function () {
    this.timeout(60_000);
    const cases = generateCases({ stack, seeds, fixed, client, random: prng(SEED) });
    expect(cases.length).to.be.at.least(2000);

    const results: { c: Case; r?: RawResponse; error?: string }[] = new Array(cases.length);
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const index = next++;
          const c = cases[index]!; // index < cases.length
          try {
            results[index] = { c, r: await sendRaw(stack.baseUrl, c.request, agent) };
          } catch (err) {
            results[index] = { c, error: (err as Error).message };
          }
        }
      }),
    );
    const elapsedMs = Date.now() - started;

    const byStatus = new Map<number, number>();
    const failures: string[] = [];
    let createdCount = 0;
    const createdIds: string[] = [];
    for (const [index, { c, r, error }] of results.entries()) {
      const where = `#${index} (seed ${SEED}) ${c.label}`;
      if (!r) {
        failures.push(`${where}: no response (${error})`);
        continue;
      }
      byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      const problems: string[] = [];
      if (r.status >= 500) problems.push('server error');
      if (!KNOWN_STATUSES.includes(r.status)) problems.push('unexpected status');
      if (c.expect && !c.expect.includes(r.status)) problems.push(`expected ${c.expect.join(' or ')}`);
      if (r.status >= 300) {
        if (!/^application\/problem\+json/.test(r.contentType)) problems.push(`content type ${r.contentType}`);
        if (r.json?.status !== r.status) problems.push(`problem status member ${r.json?.status}`);
        if (typeof r.json?.title !== 'string' || typeof r.json?.detail !== 'string')
          problems.push('problem without title or detail');
        if (/\bat .+\.js:\d+/.test(r.text)) problems.push('stack trace in the response');
      }
      if (c.fields && r.status === 400) {
        const missing = c.fields.filter((f) => !r.json?.errors || !(f in r.json.errors));
        if (missing.length) problems.push(`errors do not name ${missing.join(', ')}`);
      }
      if (problems.length) failures.push(`${where}: got ${r.status} ${r.text.slice(0, 160)}: ${problems.join('; ')}`);
      if (c.request.method === 'POST' && c.request.path === '/admin/instances' && r.status === 201) {
        createdCount += 1;
        createdIds.push(r.json.id);
      }
    }
    const summary = [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status}: ${count}`)
      .join(', ');
    console.log(
      `      hostile input: ${results.length} requests in ${elapsedMs} ms (seed ${SEED}, ${CONCURRENCY} at a time): ${summary}`,
    );
    expect(failures, `${failures.length} failures, first ones:\n${failures.slice(0, 25).join('\n')}`).to.deep.equal([]);

    // Valid creates stay queued (no worker): the admin tables hold the seeds and those, nothing else.
    await expectAdminTablesIntact(stack);
    const instances = await stack.dataSource.getRepository(InstanceEntity).find();
    expect(instances.map((i) => i.id).sort()).to.deep.equal(
      [...seeds.map((s) => s.id), fixed.id, ...createdIds].sort(),
    );
    expect(instances.find((i) => i.id === fixed.id)).to.include({
      instanceName: fixed.instanceName,
      databaseName: fixed.databaseName,
    });
    expect(
      instances.every((i) => i.status === 'PendingCreate'),
      'every instance still PendingCreate',
    ).to.equal(true);
    expect(createdCount).to.be.greaterThan(30);
    const jobs = await stack.dataSource.getRepository(JobEntity).find();
    expect(jobs.map((j) => `${j.instanceId} ${j.type} ${j.status}`).sort()).to.deep.equal(
      instances.map((i) => `${i.id} create queued`).sort(),
    );
    const claims = await stack.dataSource.getRepository(DatabaseNameClaimEntity).find();
    expect(claims.map((c) => c.nameKey).sort()).to.deep.equal(
      instances.map((i) => i.databaseName.toLowerCase()).sort(),
    );
    const clients = await stack.dataSource.getRepository(ApiClientEntity).find();
    expect(
      clients.map((c) => `${c.clientId} ${c.scopes} ${c.disabledAt?.toISOString() ?? 'enabled'}`).sort(),
    ).to.deep.equal(clientsBefore);
    // And the database server itself: not one database more, fewer or renamed.
    expect(await serverDatabases(stack)).to.deep.equal(databasesBefore);
  });
});
