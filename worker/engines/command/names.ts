import { DEFAULT_VERIFY_ENGINE, VERIFY_ENGINES } from './verify-engines';

/**
 * The command engine's names are its verify engine's. The API does not read the worker's
 * settings (ODS_COMMAND_VERIFY_ENGINE), so it applies the rules of every engine a script's work
 * can be checked on: a name it accepts, whichever verify engine the worker uses accepts too.
 * With PostgreSQL the only one, these are PostgreSQL's rules. The worker checks each name again
 * with its own verify engine's rules before a script sees it.
 */
const rules = Object.values(VERIFY_ENGINES).map((engine) => engine.names);

export const maxLength = Math.min(...rules.map((r) => r.maxLength));

export const systemDatabases: readonly string[] = [...new Set(rules.flatMap((r) => r.systemDatabases))];

export function validate(name: string, reserved: ReadonlySet<string>): string[] {
  return [...new Set(rules.flatMap((r) => r.validate(name, reserved)))];
}

/** The command engine sends no SQL of its own (its verify engine's inspector quotes); here for the interface. */
export function quote(name: string): string {
  return VERIFY_ENGINES[DEFAULT_VERIFY_ENGINE].names.quote(name);
}
