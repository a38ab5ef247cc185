import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** Decimal digits only: `limit=`, `limit=0x10` and `limit=1e2` are refused, not read loosely. */
const strictInteger = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;

/** `offset` and `limit` of every list route; the total is sent in the `Total-Count` header. */
export class PageQuery {
  @IsOptional()
  @Transform(strictInteger)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  offset = 0;

  @IsOptional()
  @Transform(strictInteger)
  @IsInt()
  @Min(1)
  @Max(500)
  limit = 25;
}
