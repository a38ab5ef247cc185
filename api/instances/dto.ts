import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { INSTANCE_STATUSES, InstanceStatus } from '../../shared/instances/status';

// Printable text only: no control characters, not blank.
const PRINTABLE = /^(?!\s*$)[^\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/;
const PRINTABLE_MESSAGE = 'instanceName must be printable text, not blank';

export class CreateInstanceDto {
  @IsString() @Length(1, 100) @Matches(PRINTABLE, { message: PRINTABLE_MESSAGE })
  instanceName: string;

  /** Checked further against the engine's rules by DatabaseNamePolicy. */
  @IsString() @Length(1, 128)
  databaseName: string;
}

export class UpdateInstanceDto {
  @IsOptional() @IsString() @Length(1, 100) @Matches(PRINTABLE, { message: PRINTABLE_MESSAGE })
  instanceName?: string;

  @IsOptional() @IsString() @Length(1, 128)
  databaseName?: string;
}

export class ListInstancesQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1_000_000)
  offset = 0;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(500)
  limit = 25;

  @IsOptional() @IsIn(INSTANCE_STATUSES)
  status?: InstanceStatus;

  /** Case-insensitive substring of the instance name. */
  @IsOptional() @IsString() @Length(1, 100)
  instanceName?: string;

  @IsOptional() @IsIn(['true', 'false'])
  includeDeleted?: 'true' | 'false';
}
