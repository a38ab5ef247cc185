/**
 * School-year rollover: for every Created instance of the caller's tenant whose
 * schoolYearFromRoute is the year left behind, the instance of the next year (docs/rollover.md).
 * Planning is pure (successorOf, planRollover); creating reuses the bulk path (createMany).
 */
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsUUID,
  Max,
  Min,
} from 'class-validator';
import type { InstanceEntity } from '../../shared/database/entities';
import { nameKey } from '../../shared/database-names';
import { type FieldErrors, ValidationError } from '../../shared/errors';
import { contextSetKey, describeContexts, type OdsInstanceContext } from '../../shared/instances/contexts';
import { instanceNameKey } from '../../shared/instances/instance-name';
import { toDto } from '../http/validation';
import { acceptCreateItem } from './bulk';
import type { ContextMode } from './context-mode';
import type { DatabaseNamePolicy } from './database-name-policy';
import type { CreateInstanceDto } from './dto';

export const ROLLOVER_PATH = '/admin/instances/rollover';
export const ROLLOVER_MODES = ['template', 'copy'] as const;
export type RolloverMode = (typeof ROLLOVER_MODES)[number];

/** The context key a rollover moves (compared case-insensitively, as the ODS/API does). */
const SCHOOL_YEAR_KEY = 'schoolyearfromroute';
/** Only instances in this status roll over: anything else is mid-change or failed. */
const ROLLABLE_STATUS = 'Created';

export class RolloverDto {
  @IsInt({ message: 'fromSchoolYear must be a whole number (a school year, 2000 to 2099)' })
  @Min(2000)
  @Max(2099)
  fromSchoolYear: number;

  @IsInt({ message: 'toSchoolYear must be a whole number (a school year, 2000 to 2099)' })
  @Min(2000)
  @Max(2099)
  toSchoolYear: number;

  /** template (default): each successor is created empty from the template; copy: from the source's database. */
  @IsOptional()
  @IsIn(ROLLOVER_MODES, { message: `mode must be one of ${ROLLOVER_MODES.join(', ')}` })
  mode?: RolloverMode;

  /** copy only: the copy's registration does not keep the source's EdFi_Admin links (passed to each create). */
  @IsOptional()
  @IsBoolean()
  disconnectSource?: boolean;

  /** Only these instances (each must be one the rollover would consider). */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsUUID('all', { each: true, message: 'each of instanceIds must be an instance id (a UUID)' })
  instanceIds?: string[];
}

export interface RolloverRequest {
  fromSchoolYear: number;
  toSchoolYear: number;
  mode: RolloverMode;
  disconnectSource?: boolean;
  instanceIds?: string[];
}

/** A body becomes a rollover request or one 400 listing every problem; nothing is read or written before. */
export function acceptRollover(body: unknown): RolloverRequest {
  const dto = toDto(RolloverDto, body);
  const errors: FieldErrors = {};
  if (dto.toSchoolYear === dto.fromSchoolYear) errors.toSchoolYear = ['toSchoolYear must differ from fromSchoolYear'];
  const mode = dto.mode ?? 'template';
  if (dto.disconnectSource !== undefined && mode !== 'copy') {
    errors.disconnectSource = ['disconnectSource applies only to mode copy'];
  }
  const repeated = (dto.instanceIds ?? []).findIndex(
    (id, i, all) => all.findIndex((other) => other.toLowerCase() === id.toLowerCase()) < i,
  );
  if (repeated >= 0) (errors.instanceIds ??= []).push(`instanceIds[${repeated}] repeats an earlier id`);
  if (Object.keys(errors).length) throw new ValidationError('The request body is invalid.', errors);
  return {
    fromSchoolYear: dto.fromSchoolYear,
    toSchoolYear: dto.toSchoolYear,
    mode,
    ...(dto.disconnectSource === undefined ? {} : { disconnectSource: dto.disconnectSource }),
    ...(dto.instanceIds ? { instanceIds: dto.instanceIds.map((id) => id.toLowerCase()) } : {}),
  };
}

const isSchoolYear = (c: OdsInstanceContext) => c.contextKey.toLowerCase() === SCHOOL_YEAR_KEY;

/** The instance's schoolYearFromRoute value, if it has one. */
export function schoolYearOf(instance: { contexts: OdsInstanceContext[] | null }): string | undefined {
  return (instance.contexts ?? []).find(isSchoolYear)?.contextValue;
}

/**
 * Every standalone `from` (not part of a longer number) replaced by `to`, and a span ending in it
 * (`2024-2025`, `2024_2025`: Ed-Fi's school year 2025) moved as a whole (`2025-2026`); null
 * when there is neither.
 */
export function replaceYear(text: string, from: number, to: number): string | null {
  const pattern = new RegExp(`(?<!\\d)(?:${from - 1}([-\u2013/_])${from}|${from})(?!\\d)`, 'g');
  if (!pattern.test(text)) return null;
  return text.replace(pattern, (_whole, separator: string | undefined) =>
    separator === undefined ? String(to) : `${to - 1}${separator}${to}`,
  );
}

/** What the plan shows of a source. */
export interface RolloverSourceView {
  id: string;
  instanceName: string;
  databaseName: string;
  status: string;
}

/** What the plan shows of a successor: what its create will be given. */
export interface SuccessorView {
  instanceName: string;
  databaseName: string;
  odsInstanceContexts: OdsInstanceContext[];
  instanceType: string | null;
  apiClientKeys: string[];
  mode: RolloverMode;
}

export type RolloverItem =
  | { source: RolloverSourceView; action: 'create'; successor: SuccessorView }
  | { source: RolloverSourceView; action: 'skip'; reason: string };

export interface RolloverPlan {
  items: RolloverItem[];
  /** The creates of the `create` items, in the same order, for createMany. */
  creates: CreateInstanceDto[];
}

/**
 * The create a source's successor would be, as a plain body that goes through the same checks as
 * a bulk item. `template`, `sourceInstanceId` and `disconnectSource` are create fields other
 * branches add; they are set only when they have a value, so this compiles and validates
 * without them (where they do not exist yet, a copy is refused by the create's own checks).
 */
export function successorBody(
  source: InstanceEntity,
  request: RolloverRequest,
  derivesDatabaseName: boolean,
): Record<string, unknown> {
  const { fromSchoolYear: from, toSchoolYear: to } = request;
  const contexts = (source.contexts ?? []).map((c) =>
    isSchoolYear(c) ? { contextKey: c.contextKey, contextValue: String(to) } : { ...c },
  );
  const template = (source as { template?: string | null }).template ?? undefined;
  return {
    instanceName: replaceYear(source.instanceName, from, to) ?? `${source.instanceName} ${to}`,
    // Left out where the deployment derives names: the pattern derives it from the new contexts.
    ...(derivesDatabaseName
      ? {}
      : { databaseName: replaceYear(source.databaseName, from, to) ?? `${source.databaseName}_${to}` }),
    odsInstanceContexts: contexts,
    ...(source.instanceType === null ? {} : { instanceType: source.instanceType }),
    ...(source.apiClientKeys?.length ? { apiClientKeys: [...source.apiClientKeys] } : {}),
    ...(request.mode === 'copy'
      ? {
          sourceInstanceId: source.id,
          ...(request.disconnectSource === undefined ? {} : { disconnectSource: request.disconnectSource }),
        }
      : {}),
    ...(request.mode === 'template' && template !== undefined ? { template } : {}),
  };
}

const flatten = (err: ValidationError) => {
  const messages = Object.values(err.errors).flat();
  return messages.length ? messages.join('; ') : err.message;
};

/**
 * For each candidate (every live instance of the tenant with schoolYearFromRoute = fromSchoolYear,
 * or those of instanceIds), the successor to create or why it is skipped. `live` is every live
 * instance of the tenant; `claimed` tells which database names are taken (by name key).
 */
export async function planRollover(
  request: RolloverRequest,
  live: InstanceEntity[],
  claimed: (databaseNames: string[]) => Promise<Set<string>>,
  mode: ContextMode,
  names: DatabaseNamePolicy,
): Promise<RolloverPlan> {
  const from = String(request.fromSchoolYear);
  let sources = live.filter((i) => schoolYearOf(i) === from);
  if (request.instanceIds) {
    const wanted = request.instanceIds;
    const errors: FieldErrors = {};
    wanted.forEach((id, i) => {
      if (!sources.some((s) => s.id === id)) {
        errors[`instanceIds[${i}]`] = [`is not an instance of this tenant whose schoolYearFromRoute is ${from}`];
      }
    });
    if (Object.keys(errors).length) throw new ValidationError('The request body is invalid.', errors);
    sources = sources.filter((s) => wanted.includes(s.id));
  }
  const derives = mode.settings.databaseNamePattern !== null;
  const candidates = sources.map((source) => {
    const body = successorBody(source, request, derives);
    const contexts = body.odsInstanceContexts as OdsInstanceContext[];
    try {
      return { source, contexts, dto: acceptCreateItem(body, mode, names) };
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return { source, contexts, invalid: `the successor would be invalid: ${flatten(err)}` };
    }
  });
  const taken = await claimed(candidates.flatMap((c) => (c.dto ? [c.dto.databaseName] : [])));
  const byContexts = new Map(live.flatMap((i) => (i.contextSetKey ? [[i.contextSetKey, i] as const] : [])));
  const byName = new Map(live.map((i) => [i.instanceNameKey, i] as const));
  const planned = { names: new Map<string, string>(), databases: new Map<string, string>() };

  const items: RolloverItem[] = [];
  const creates: CreateInstanceDto[] = [];
  for (const { source, contexts, dto, invalid } of candidates) {
    const view: RolloverSourceView = {
      id: source.id,
      instanceName: source.instanceName,
      databaseName: source.databaseName,
      status: source.status,
    };
    const skip = (why: string) => items.push({ source: view, action: 'skip', reason: why });
    // First: a rerun skips what it already created, whatever else changed since.
    const existing = byContexts.get(contextSetKey(contexts) ?? '');
    if (existing) {
      skip(
        `its successor exists: ${JSON.stringify(existing.instanceName)} (${existing.id}) has the contexts ${describeContexts(contexts)}`,
      );
      continue;
    }
    if (source.status !== ROLLABLE_STATUS) {
      skip(`its status is ${source.status}; only ${ROLLABLE_STATUS} instances roll over`);
      continue;
    }
    if (!dto) {
      skip(invalid ?? 'the successor would be invalid');
      continue;
    }
    const nameHolder = byName.get(instanceNameKey(dto.instanceName));
    if (nameHolder) {
      skip(`the successor's instanceName ${JSON.stringify(dto.instanceName)} is taken by instance ${nameHolder.id}`);
      continue;
    }
    if (taken.has(nameKey(dto.databaseName))) {
      skip(`the successor's databaseName ${JSON.stringify(dto.databaseName)} is in use by another instance`);
      continue;
    }
    const sameName = planned.names.get(instanceNameKey(dto.instanceName));
    const sameDatabase = planned.databases.get(nameKey(dto.databaseName));
    if (sameName || sameDatabase) {
      skip(
        `the successor's ${sameName ? 'instanceName' : 'databaseName'} repeats that of the successor of ${JSON.stringify(sameName ?? sameDatabase)}`,
      );
      continue;
    }
    planned.names.set(instanceNameKey(dto.instanceName), source.instanceName);
    planned.databases.set(nameKey(dto.databaseName), source.instanceName);
    creates.push(dto);
    items.push({
      source: view,
      action: 'create',
      successor: {
        instanceName: dto.instanceName,
        databaseName: dto.databaseName,
        odsInstanceContexts: contexts.map((c) => ({ contextKey: c.contextKey, contextValue: c.contextValue })),
        instanceType: dto.instanceType ?? null,
        apiClientKeys: dto.apiClientKeys ?? [],
        mode: request.mode,
      },
    });
  }
  return { items, creates };
}

/** More creates than one request may make: the caller splits the rollover with instanceIds. */
export function assertWithinCap(creates: number, max: number): void {
  if (creates <= max) return;
  throw new ValidationError(
    `This rollover would create ${creates} instances, more than BULK_CREATE_MAX (${max}); nothing was created. ` +
      `Send it in parts of at most ${max}, each naming its sources in instanceIds (a dry run lists them).`,
    { instanceIds: [`name at most ${max} of the instances to roll over`] },
  );
}
