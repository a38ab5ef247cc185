import type { ApiConfig } from '../../shared/config';
import { ValidationError } from '../../shared/errors';
import { deriveDatabaseName, type OdsInstanceContext } from '../../shared/instances/contexts';
import { CreateDerivedInstanceDto, CreateInstanceDto } from './dto';

/**
 * The deployment's mode (ODS_CONTEXT_KEYS, ODS_DATABASE_NAME_PATTERN): which context keys every
 * instance carries, and the database name of a create that leaves it out. Without either
 * setting, contexts are free and databaseName is required, as before contexts existed.
 */
export class ContextMode {
  private readonly keys: string[];
  private readonly pattern: string | null;

  constructor(settings: ApiConfig['contexts']) {
    this.keys = settings.keys;
    this.pattern = settings.databaseNamePattern;
  }

  /** The DTO a create body becomes: databaseName is optional only where it can be derived. */
  get createDto(): typeof CreateInstanceDto | typeof CreateDerivedInstanceDto {
    return this.pattern === null ? CreateInstanceDto : CreateDerivedInstanceDto;
  }

  /** 400 unless the contexts carry exactly the configured keys (compared case-insensitively, as the ODS/API does). */
  assertKeys(contexts: readonly OdsInstanceContext[] | undefined): void {
    if (!this.keys.length) return;
    const given = (contexts ?? []).map((c) => c.contextKey);
    const has = (list: string[], key: string) => list.some((k) => k.toLowerCase() === key.toLowerCase());
    const missing = this.keys.filter((k) => !has(given, k));
    const extra = given.filter((k) => !has(this.keys, k));
    if (!missing.length && !extra.length) return;
    throw new ValidationError('The request body is invalid.', {
      odsInstanceContexts: [
        `odsInstanceContexts must carry exactly the keys ${this.keys.join(', ')} (ODS_CONTEXT_KEYS)` +
          (missing.length ? `; missing: ${missing.join(', ')}` : '') +
          (extra.length ? `; not expected: ${extra.join(', ')}` : ''),
      ],
    });
  }

  /** The name given, or the one derived from the pattern (then checked by the same DatabaseNamePolicy). */
  databaseNameFor(dto: { databaseName?: string | null; odsInstanceContexts?: OdsInstanceContext[] }): {
    name: string;
    derived: boolean;
  } {
    if (typeof dto.databaseName === 'string') return { name: dto.databaseName, derived: false };
    // Only CreateDerivedInstanceDto lets databaseName be left out, and only when a pattern is set.
    return { name: deriveDatabaseName(this.pattern ?? '', dto.odsInstanceContexts ?? []), derived: true };
  }

  get settings(): { contextKeys: string[]; databaseNamePattern: string | null } {
    return { contextKeys: [...this.keys], databaseNamePattern: this.pattern };
  }
}
