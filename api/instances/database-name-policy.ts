import { databaseNameOf } from '../../shared/config';
import { type EngineName, nameRulesFor, reservedNameSet } from '../../shared/database-names';
import { ValidationError } from '../../shared/errors';
import type { Templates } from '../../shared/templates';
import { TemplateCatalog } from '../templates/catalog';

/**
 * Which database names the API accepts for this deployment's engine, and which template a create
 * copies: no operation may target the admin database, a reserved name or any template's database.
 */
export class DatabaseNamePolicy {
  private readonly reserved: Set<string>;
  readonly templates: TemplateCatalog;

  constructor(
    private readonly engine: EngineName,
    options: { adminDatabaseUrl: string; templates: Templates; reservedNames: string[] },
  ) {
    this.templates = new TemplateCatalog(options.templates);
    this.reserved = reservedNameSet(engine, [
      databaseNameOf(options.adminDatabaseUrl),
      ...options.templates.list.map((t) => t.database),
      ...options.reservedNames,
    ]);
  }

  /** `derived`: the name came from ODS_DATABASE_NAME_PATTERN, and the message says so. */
  assertAcceptable(name: string, derived = false): void {
    const problems = nameRulesFor(this.engine).validate(name, this.reserved);
    if (problems.length) {
      const subject = derived ? `databaseName (derived from the contexts: ${JSON.stringify(name)})` : 'databaseName';
      throw new ValidationError('The request body is invalid.', {
        databaseName: problems.map((p) => `${subject} ${p}`),
      });
    }
  }
}
