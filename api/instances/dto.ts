import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  ValidateBy,
  ValidateIf,
} from 'class-validator';
import {
  CONTEXT_KEY,
  contextValueProblem,
  MAX_CONTEXTS,
  type OdsInstanceContext,
} from '../../shared/instances/contexts';
import { instanceNameProblems, normalizeInstanceName } from '../../shared/instances/instance-name';
import { INSTANCE_STATUSES, InstanceStatus } from '../../shared/instances/status';
import { CursorPageQuery } from '../http/paging';

/** Names are stored normalised (NFC, plain spaces, trimmed), so what is checked is what is kept. */
const NormalizedName = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normalizeInstanceName(value) : value));

/** No invisible or text-direction characters, no Latin mixed with Cyrillic or Greek in one word. */
function NoLookAlikeTricks() {
  return ValidateBy({
    name: 'noLookAlikeTricks',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || instanceNameProblems(value).length === 0,
      defaultMessage: (args) => instanceNameProblems(String(args?.value)).join('; '),
    },
  });
}

// Printable text only: no control characters, not blank, no lone UTF-16 surrogate (which
// PostgreSQL would store as U+FFFD, so the name read back would not be the name sent).
const PRINTABLE = /^(?!\s*$)[^\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]+$/u;
const PRINTABLE_MESSAGE = 'instanceName must be printable text, not blank';
// A filter can match only printable names; PostgreSQL text cannot even hold U+0000.
const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/;

/**
 * Length in Unicode code points, as PostgreSQL's varchar(n) counts it. class-validator's
 * Length does not count variation selectors (U+FE0E, U+FE0F), so 100 of them would pass it
 * and then overflow varchar(100).
 */
function CodePointLength(min: number, max: number) {
  return ValidateBy({
    name: 'codePointLength',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && [...value].length >= min && [...value].length <= max,
      defaultMessage: (args) => `${args?.property} must be ${min} to ${max} characters`,
    },
  });
}

/**
 * One rule over an array, whose message names every offending index (`odsInstanceContexts[1].contextValue
 * must be...`), so a client fixing its request knows which entry to fix.
 */
function EachEntry<T>(name: string, problemsOf: (items: T[]) => string[]) {
  const problems = (value: unknown) => (Array.isArray(value) ? problemsOf(value as T[]) : []);
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown) => problems(value).length === 0,
      defaultMessage: (args) => problems(args?.value).join('; '),
    },
  });
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function IsArrayOfAtMost(max: number) {
  return ValidateBy({
    name: 'isArrayOfAtMost',
    validator: {
      validate: (value: unknown) => Array.isArray(value) && value.length <= max,
      defaultMessage: (args) => `${args?.property} must be an array of at most ${max} entries`,
    },
  });
}

/** Each entry exactly `{ contextKey, contextValue }`, both strings: nothing else reaches the other rules. */
const contextShapeProblems = (items: unknown[]) =>
  items.flatMap((item, i) =>
    isPlainObject(item) &&
    Object.keys(item).length === 2 &&
    typeof item.contextKey === 'string' &&
    typeof item.contextValue === 'string'
      ? []
      : [`odsInstanceContexts[${i}] must be an object with exactly contextKey and contextValue, both strings`],
  );

const contextProblems = (items: OdsInstanceContext[]) => {
  if (contextShapeProblems(items).length) return [];
  const seen = new Map<string, number>();
  return items.flatMap((c, i) => {
    if (!CONTEXT_KEY.test(c.contextKey)) {
      return [`odsInstanceContexts[${i}].contextKey must be a letter then letters or digits, at most 50 characters`];
    }
    const folded = c.contextKey.toLowerCase();
    const first = seen.get(folded);
    if (first !== undefined) {
      return [
        `odsInstanceContexts[${i}].contextKey repeats odsInstanceContexts[${first}].contextKey (keys are compared case-insensitively)`,
      ];
    }
    seen.set(folded, i);
    const problem = contextValueProblem(c.contextKey, c.contextValue);
    return problem ? [`odsInstanceContexts[${i}].contextValue (${c.contextKey}) ${problem}`] : [];
  });
};

/** EdFi_Admin ApiClients.Key values. */
const API_CLIENT_KEY = /^[A-Za-z0-9_-]{1,50}$/;
const apiClientKeyProblems = (items: unknown[]) =>
  items.flatMap((key, i) => {
    if (typeof key !== 'string' || !API_CLIENT_KEY.test(key)) {
      return [`apiClientKeys[${i}] must be 1 to 50 characters: ASCII letters, digits, '_' and '-'`];
    }
    const first = items.indexOf(key);
    return first < i ? [`apiClientKeys[${i}] repeats apiClientKeys[${first}]`] : [];
  });

/** What every create carries besides its databaseName. */
abstract class CreateInstanceFields {
  @NormalizedName()
  @IsString()
  @CodePointLength(1, 100)
  @Matches(PRINTABLE, { message: PRINTABLE_MESSAGE })
  @NoLookAlikeTricks()
  instanceName: string;

  abstract databaseName?: string;

  /** The ODS/API route contexts that select this instance (dbo.OdsInstanceContexts). */
  @IsOptional()
  @IsArrayOfAtMost(MAX_CONTEXTS)
  @EachEntry('contextShape', contextShapeProblems)
  @EachEntry('contextValues', contextProblems)
  odsInstanceContexts?: OdsInstanceContext[];

  /** dbo.OdsInstances.InstanceType (nvarchar(100)). */
  @IsOptional()
  @IsString()
  @CodePointLength(1, 100)
  @Matches(PRINTABLE, { message: 'instanceType must be printable text, not blank' })
  instanceType?: string;

  /** EdFi_Admin ApiClients.Key values to link to the new instance (dbo.ApiClientOdsInstances). */
  @IsOptional()
  @IsArrayOfAtMost(20)
  @EachEntry('apiClientKeys', apiClientKeyProblems)
  apiClientKeys?: string[];

  /** The template to copy (ODS_TEMPLATES' name, GET /admin/templates); the default when left out. */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/, {
    message: "template must be a template's name: 1 to 40 letters, digits or '-' (GET /admin/templates lists them)",
  })
  template?: string;

  /**
   * Copy this instance's database (its data included) instead of the template (docs/copy.md).
   * The source must be a Created instance of the caller's tenant with no unfinished job.
   */
  @IsOptional()
  @IsUUID('all', { message: 'sourceInstanceId must be the id (a UUID) of an instance' })
  sourceInstanceId?: string;

  /**
   * The caller agrees that the copy shuts the source's database to new connections and ends its
   * sessions while it copies (PostgreSQL copies only a database nobody is connected to); required
   * as `true` with sourceInstanceId on PostgreSQL, not needed on SQL Server (an online backup).
   */
  @IsOptional()
  @IsBoolean({ message: 'disconnectSource must be true or false' })
  disconnectSource?: boolean;

  /**
   * Register the existing, unmanaged database `databaseName` instead of copying the template
   * (docs/adopt-release.md). The name is then required, never derived.
   */
  @IsOptional()
  @IsBoolean()
  adopt?: boolean;
}

/** A create where the deployment derives no names: databaseName is required. */
export class CreateInstanceDto extends CreateInstanceFields {
  /** Checked further against the engine's rules by DatabaseNamePolicy. */
  @IsString()
  @Length(1, 128)
  databaseName: string;
}

/** A create where ODS_DATABASE_NAME_PATTERN is set: a left-out databaseName is derived from the contexts. */
export class CreateDerivedInstanceDto extends CreateInstanceFields {
  @IsOptional()
  @IsString()
  @Length(1, 128)
  databaseName?: string;
}

/** `?dryRun=true` on a create, rename or delete: every check, then the plan; nothing written or queued. */
export class DryRunQuery {
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'dryRun must be true or false' })
  dryRun?: 'true' | 'false';
}

/** `DELETE /admin/instances/{id}?force=true`: also remove the EdFi_Admin links that would block the delete. */
export class DeleteInstanceQuery extends DryRunQuery {
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'force must be true or false' })
  force?: 'true' | 'false';

  /**
   * Whether the database goes too. Left out: yes, unless the instance was adopted (its database
   * is then released, kept unmanaged). `false`, for any instance: release instead of drop.
   */
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'dropDatabase must be true or false' })
  dropDatabase?: 'true' | 'false';
}

/** `POST /admin/instances/{id}/release?force=true`: also remove the EdFi_Admin links that would block it. */
export class ReleaseInstanceQuery extends DryRunQuery {
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'force must be true or false' })
  force?: 'true' | 'false';
}

// Absent means "leave as is"; null is not absent (IsOptional would let it through to a NOT NULL column).
const present = (field: keyof UpdateInstanceDto) => ValidateIf((dto: UpdateInstanceDto) => dto[field] !== undefined);

export class UpdateInstanceDto {
  @present('instanceName')
  @NormalizedName()
  @IsString()
  @CodePointLength(1, 100)
  @Matches(PRINTABLE, { message: PRINTABLE_MESSAGE })
  @NoLookAlikeTricks()
  instanceName?: string;

  @present('databaseName')
  @IsString()
  @Length(1, 128)
  databaseName?: string;
}

export class ListInstancesQuery extends CursorPageQuery {
  @IsOptional()
  @IsIn(INSTANCE_STATUSES)
  status?: InstanceStatus;

  /** Case-insensitive substring of the instance name. */
  @IsOptional()
  @IsString()
  @Length(1, 100)
  @Matches(NO_CONTROL_CHARACTERS, { message: 'instanceName must not contain control characters' })
  instanceName?: string;

  @IsOptional()
  @IsIn(['true', 'false'])
  includeDeleted?: 'true' | 'false';

  /** Only protected (`true`) or only unprotected (`false`) instances. */
  @IsOptional()
  @IsIn(['true', 'false'])
  protected?: 'true' | 'false';

  /** Only instances in drift (`true`: database dropped, renamed or re-marked by hand) or only those not (`false`). */
  @IsOptional()
  @IsIn(['true', 'false'])
  drift?: 'true' | 'false';

  /** By creation time: `asc` (oldest first, the default) or `desc` (newest first, as the web UI shows them). */
  @IsOptional()
  @IsIn(['asc', 'desc'])
  order: 'asc' | 'desc' = 'asc';
}
