import { Transform } from 'class-transformer';
import {
  IsInt,
  IsOptional,
  Max,
  Min,
  Validate,
  type ValidationArguments,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { isUuid } from './resources';

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

/**
 * Where a page ends, in the list's order (created_at, then id): the next page starts after it.
 * Opaque to clients: base64url of the creation time in milliseconds (the precision the service
 * writes) and the id. The list's index on (tenant, created_at, id) finds the next page without
 * walking past the rows before it, as an offset does.
 */
export class PageCursor {
  constructor(
    readonly createdAt: Date,
    readonly id: string,
  ) {}

  static of(row: { createdAt: Date; id: string }): PageCursor {
    return new PageCursor(row.createdAt, row.id);
  }

  /** The cursor, or undefined for anything this API did not make. */
  static parse(text: string): PageCursor | undefined {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(text)) return undefined;
    const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(text, 'base64url').toString('latin1'));
    if (!match || !isUuid(match[2]!)) return undefined;
    return new PageCursor(new Date(Number(match[1])), match[2]!);
  }

  toString(): string {
    return Buffer.from(`${this.createdAt.getTime()}.${this.id}`, 'latin1').toString('base64url');
  }
}

/** What `after` becomes when `offset` came with it: a page has one start. */
const WITH_OFFSET = Symbol('after with offset');

@ValidatorConstraint({ name: 'pageCursor' })
class IsPageCursor implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return value instanceof PageCursor;
  }

  defaultMessage(args: ValidationArguments): string {
    return args.value === WITH_OFFSET
      ? 'after and offset cannot be used together: a page starts after a cursor or at an offset'
      : 'after must be a cursor this API gave (the Next-Cursor header or the Link rel="next")';
  }
}

/** PageQuery plus `after`: keyset paging, for lists ordered by (created_at, id). */
export class CursorPageQuery extends PageQuery {
  @IsOptional()
  @Transform(({ value, obj }: { value: unknown; obj: Record<string, unknown> }) => {
    if (typeof value !== 'string') return value;
    return obj.offset !== undefined ? WITH_OFFSET : (PageCursor.parse(value) ?? value);
  })
  @Validate(IsPageCursor)
  after?: PageCursor;
}
