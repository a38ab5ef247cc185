import { databaseNameOf } from '../../shared/config';
import { type EngineName, nameRulesFor, reservedNameSet } from '../../shared/database-names';
import { ValidationError } from '../../shared/errors';

/** Which database names the API accepts for this deployment's engine. */
export class DatabaseNamePolicy {
  private readonly reserved: Set<string>;

  constructor(
    private readonly engine: EngineName,
    options: { adminDatabaseUrl: string; templateDatabase: string; reservedNames: string[] },
  ) {
    this.reserved = reservedNameSet(engine, [
      databaseNameOf(options.adminDatabaseUrl),
      options.templateDatabase,
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
