import * as postgres from './postgres';

/** Engines the product can drive. Adding one: a rules module here and a driver in worker/engines/. */
export const ENGINES = ['postgres'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface NameRules {
  /** Problems with `name` as an ODS database name on this engine; empty when it is acceptable. */
  validate(name: string, reserved: ReadonlySet<string>): string[];
  /** The identifier quoted for use in a statement; throws on a name that `validate` would refuse. */
  quote(name: string): string;
  /** Names of the engine's own databases, never to be taken by an instance. */
  readonly systemDatabases: readonly string[];
  readonly maxLength: number;
}

const RULES: Record<EngineName, NameRules> = { postgres };

export function nameRulesFor(engine: EngineName): NameRules {
  return RULES[engine];
}

export { STAGING_PREFIX, stagingDatabaseName } from './staging';

/** Everything no instance may be named, compared case-insensitively. */
export function reservedNameSet(engine: EngineName, extra: Iterable<string>): Set<string> {
  return new Set([...nameRulesFor(engine).systemDatabases, ...extra].map((n) => n.toLowerCase()));
}

/** Two names that differ only in letter case are the same name to this product. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}
