import express, { type RequestHandler } from 'express';
import { nameKey } from '../../shared/database-names';
import { type FieldErrors, ValidationError } from '../../shared/errors';
import { instanceNameKey } from '../../shared/instances/instance-name';
import { contextSetKey } from '../../shared/instances/contexts';
import { toDto } from '../http/validation';
import type { ContextMode } from './context-mode';
import type { DatabaseNamePolicy } from './database-name-policy';
import type { CreateInstanceDto } from './dto';

export const BULK_PATH = '/admin/instances/bulk';

/** Body bytes allowed per item: a typical item is a few hundred; this leaves room for long names, contexts and client keys. */
const BYTES_PER_ITEM = 4096;

/** The app-wide JSON parser leaves the bulk route's body to the route's own parser, which runs after authentication. */
export function isBulkPath(path: string): boolean {
  return path.replace(/\/+$/, '').toLowerCase() === BULK_PATH;
}

/** A body limit sized for `max` instances, applied only once the caller is known to be allowed to write. */
export function bulkBodyParser(max: number): RequestHandler {
  const parse = express.json({
    limit: max * BYTES_PER_ITEM,
    strict: true,
    type: ['application/json', 'application/*+json'],
  });
  return (req, res, next) => (req.body === undefined ? parse(req, res, next) : next());
}

/**
 * A bulk body becomes the creates it asks for, each with its databaseName (given or derived), or
 * one 400 that lists every problem of every item by its index (`instances[3].databaseName`),
 * including two items that would take the same instanceName, databaseName or contexts.
 */
export function acceptBulkCreate(
  body: unknown,
  mode: ContextMode,
  names: DatabaseNamePolicy,
  max: number,
): CreateInstanceDto[] {
  const items = bulkItems(body, max);
  const errors: FieldErrors = {};
  const accepted: (CreateInstanceDto | null)[] = items.map((item, i) => {
    const at = `instances[${i}]`;
    try {
      const dto = acceptCreateItem(item, mode, names, at);
      if (dto.adopt)
        throw new ValidationError('The request body is invalid.', {
          adopt: ['adopt is for single creates (POST /admin/instances), one existing database at a time'],
        });
      if (dto.sourceInstanceId !== undefined || dto.disconnectSource !== undefined)
        throw new ValidationError('A bulk create cannot copy an instance.', {
          sourceInstanceId: ['A bulk create cannot copy an instance; copy one at a time with POST /admin/instances.'],
        });
      return dto;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const fields = Object.entries(err.errors);
      if (!fields.length) errors[at] = [err.message];
      for (const [field, messages] of fields) errors[`${at}.${field}`] = messages;
      return null;
    }
  });
  repeatsWithin(accepted, errors);
  if (Object.keys(errors).length) {
    const invalid = new Set(Object.keys(errors).map((k) => k.replace(/^(instances\[\d+\]).*$/, '$1'))).size;
    throw new ValidationError(`${invalid} of the ${items.length} instances are invalid; nothing was created.`, errors);
  }
  return accepted as CreateInstanceDto[];
}

/**
 * One item of a many-instance request (a bulk item, a rollover's successor) as a single create
 * checks it: the body rules, the deployment's context keys, the database name given or derived,
 * the template named (or the default).
 * A ValidationError names its fields without the item's prefix.
 */
export function acceptCreateItem(
  item: unknown,
  mode: ContextMode,
  names: DatabaseNamePolicy,
  what = 'request body',
): CreateInstanceDto {
  const dto = toDto(mode.createDto, item, what);
  mode.assertKeys(dto.odsInstanceContexts);
  assertOneOrigin(dto);
  const { name, derived } = mode.databaseNameFor(dto);
  names.assertAcceptable(name, derived);
  // A copy starts from its source's database, an adopted instance from its own: neither names a template.
  if (dto.sourceInstanceId !== undefined || dto.adopt === true) return Object.assign(dto, { databaseName: name });
  return Object.assign(dto, { databaseName: name, template: names.templates.resolve(dto.template).name });
}

/**
 * A create starts from a template, a copy of an instance (sourceInstanceId) or an existing
 * database (adopt, which names the database it takes: never derived); 400 for more than one.
 */
function assertOneOrigin(dto: Omit<CreateInstanceDto, 'databaseName'> & { databaseName?: string }): void {
  const given = [
    dto.template !== undefined && 'template',
    dto.sourceInstanceId !== undefined && 'sourceInstanceId',
    dto.adopt === true && 'adopt',
  ].filter((x): x is string => typeof x === 'string');
  if (given.length > 1)
    throw new ValidationError('The request body is invalid.', {
      [given[1]!]: [
        `${given.join(' and ')} exclude each other: a create starts from a template, a copy of an instance, or an existing database (adopt)`,
      ],
    });
  if (dto.adopt === true && typeof dto.databaseName !== 'string')
    throw new ValidationError('The request body is invalid.', {
      databaseName: ['databaseName is required when adopt is true (the existing database to adopt)'],
    });
}

function bulkItems(body: unknown, max: number): unknown[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('The request body must be a JSON object.');
  }
  const extra = Object.keys(body).filter((k) => k !== 'instances');
  if (extra.length) {
    throw new ValidationError(
      'The request body is invalid.',
      Object.fromEntries(extra.map((k) => [k.slice(0, 100), [`property ${k.slice(0, 100)} should not exist`]])),
    );
  }
  const items = (body as { instances?: unknown }).instances;
  if (!Array.isArray(items) || !items.length) {
    throw new ValidationError('The request body is invalid.', {
      instances: ['instances must be a non-empty array of instances to create'],
    });
  }
  if (items.length > max) {
    throw new ValidationError('The request body is invalid.', {
      instances: [`instances may hold at most ${max} instances (BULK_CREATE_MAX); this request has ${items.length}`],
    });
  }
  return items;
}

/** Two items of one request that the admin database would refuse together, compared as its unique indexes compare them. */
function repeatsWithin(items: (CreateInstanceDto | null)[], errors: FieldErrors): void {
  const rules: { field: string; key: (dto: CreateInstanceDto) => string | null; what: string }[] = [
    { field: 'instanceName', key: (d) => instanceNameKey(d.instanceName), what: 'instanceName' },
    { field: 'databaseName', key: (d) => nameKey(d.databaseName), what: 'databaseName' },
    {
      field: 'odsInstanceContexts',
      key: (d) => contextSetKey(d.odsInstanceContexts),
      what: 'contexts (the ODS/API could not tell them apart)',
    },
  ];
  for (const rule of rules) {
    const first = new Map<string, number>();
    items.forEach((dto, i) => {
      const key = dto && rule.key(dto);
      if (key === null) return;
      const earlier = first.get(key);
      if (earlier === undefined) first.set(key, i);
      else
        (errors[`instances[${i}].${rule.field}`] ??= []).push(
          `repeats the ${rule.what} of instances[${earlier}] (compared case-insensitively)`,
        );
    });
  }
}
