import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, Length, Matches, ValidateBy, ValidateIf } from 'class-validator';
import { instanceNameProblems, normalizeInstanceName } from '../../shared/instances/instance-name';
import { INSTANCE_STATUSES, InstanceStatus } from '../../shared/instances/status';
import { PageQuery } from '../http/paging';

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

export class CreateInstanceDto {
  @NormalizedName()
  @IsString()
  @CodePointLength(1, 100)
  @Matches(PRINTABLE, { message: PRINTABLE_MESSAGE })
  @NoLookAlikeTricks()
  instanceName: string;

  /** Checked further against the engine's rules by DatabaseNamePolicy. */
  @IsString()
  @Length(1, 128)
  databaseName: string;
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

export class ListInstancesQuery extends PageQuery {
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

  /** By creation time: `asc` (oldest first, the default) or `desc` (newest first, as the web UI shows them). */
  @IsOptional()
  @IsIn(['asc', 'desc'])
  order: 'asc' | 'desc' = 'asc';
}
