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

  assertAcceptable(name: string): void {
    const problems = nameRulesFor(this.engine).validate(name, this.reserved);
    if (problems.length) {
      throw new ValidationError('The request body is invalid.', {
        databaseName: problems.map((p) => `databaseName ${p}`),
      });
    }
  }
}
