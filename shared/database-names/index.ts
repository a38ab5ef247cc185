import { ENGINE_MODULES } from '../../worker/engines/registry';
import type { NameRules } from './rules';

export type { NameRules } from './rules';

/** Engines the product can drive: one folder each under worker/engines/, one line in its registry. */
export type EngineName = keyof typeof ENGINE_MODULES;
export const ENGINES = Object.keys(ENGINE_MODULES) as EngineName[];

export function nameRulesFor(engine: EngineName): NameRules {
  return ENGINE_MODULES[engine].names;
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
