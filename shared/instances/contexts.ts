/**
 * ODS/API route contexts (dbo.OdsInstanceContexts): which keys and values an instance may
 * carry, the folded set on which two instances are told apart, and database names derived
 * from them. The ODS/API compares keys and values case-insensitively, so this module does too.
 */
import type { OdsInstanceContext } from '../database/entities/instance.entity';
import { type EngineName, nameRulesFor } from '../database-names';

export type { OdsInstanceContext };

/** At most this many contexts per instance (Ed-Fi's routes use one or two). */
export const MAX_CONTEXTS = 5;
/** A route template parameter name; dbo.OdsInstanceContexts.ContextKey is nvarchar(50). */
export const CONTEXT_KEY = /^[A-Za-z][A-Za-z0-9]{0,49}$/;
/** Values of keys that are neither a school year nor an id (ContextValue is nvarchar(50)). */
const OTHER_VALUE = /^[A-Za-z0-9_-]{1,50}$/;
/** Ed-Fi's default route constraint is `range(2000,2099)`. */
const SCHOOL_YEAR = /^20\d\d$/;
/** An Ed-Fi id (district, education organization...): digits, no leading zero, int range in practice. */
const ID_VALUE = /^[1-9]\d{0,9}$/;

type KeyKind = 'schoolYear' | 'id' | 'other';

const fold = (text: string) => text.toLowerCase();

function kindOf(key: string): KeyKind {
  const k = fold(key);
  if (k === 'schoolyearfromroute') return 'schoolYear';
  if (k.endsWith('idfromroute')) return 'id';
  return 'other';
}

/** What is wrong with `value` for `key`, or undefined when it is acceptable. */
export function contextValueProblem(key: string, value: string): string | undefined {
  switch (kindOf(key)) {
    case 'schoolYear':
      return SCHOOL_YEAR.test(value) ? undefined : 'must be a school year, four digits from 2000 to 2099';
    case 'id':
      return ID_VALUE.test(value) ? undefined : 'must be an id: 1 to 10 digits without a leading zero';
    default:
      return OTHER_VALUE.test(value) ? undefined : "must be 1 to 50 characters: ASCII letters, digits, '_' and '-'";
  }
}

/** The longest value a key can carry, and the characters it may hold (for checking name patterns). */
function worstValues(key: string): string[] {
  switch (kindOf(key)) {
    case 'schoolYear':
      return ['2099'];
    case 'id':
      return ['9'.repeat(10)];
    default:
      // Longest, and holding the one character database names most often refuse.
      return ['a'.repeat(50), '-'];
  }
}

/** `k1=v1&k2=v2`, folded and sorted by key; null for no contexts (such instances never collide). */
export function contextSetKey(contexts: readonly OdsInstanceContext[] | null | undefined): string | null {
  if (!contexts?.length) return null;
  return contexts
    .map((c) => `${fold(c.contextKey)}=${fold(c.contextValue)}`)
    .sort()
    .join('&');
}

/** `schoolYearFromRoute=2025, districtIdFromRoute=255901`, as messages show a set. */
export function describeContexts(contexts: readonly OdsInstanceContext[]): string {
  return contexts.map((c) => `${c.contextKey}=${c.contextValue}`).join(', ');
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The `{key}` names a pattern uses, in order. */
export function placeholdersOf(pattern: string): string[] {
  return [...pattern.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

/** The default pattern for a set of keys: `EdFi_Ods_{k1}_{k2}`. */
export function defaultNamePattern(keys: readonly string[]): string {
  return ['EdFi_Ods', ...keys.map((k) => `{${k}}`)].join('_');
}

/** The pattern with each `{key}` replaced by that key's value (keys matched case-insensitively). */
export function deriveDatabaseName(pattern: string, contexts: readonly OdsInstanceContext[]): string {
  return pattern.replace(PLACEHOLDER, (whole, key: string) => {
    const context = contexts.find((c) => fold(c.contextKey) === fold(key));
    return context ? context.contextValue : whole;
  });
}

/**
 * Why `keys` (ODS_CONTEXT_KEYS) and `pattern` (ODS_DATABASE_NAME_PATTERN) cannot work together
 * on `engine`; empty when they can. The pattern is tried with every key's worst values, so a
 * pattern accepted here cannot produce an invalid or over-long name from valid contexts.
 */
export function namePatternProblems(pattern: string, keys: readonly string[], engine: EngineName): string[] {
  const used = placeholdersOf(pattern);
  if (!used.length) {
    return [`ODS_DATABASE_NAME_PATTERN has no {contextKey} placeholder, so every instance would get the same name`];
  }
  const unknown = used.filter((u) => !keys.some((k) => fold(k) === fold(u)));
  if (unknown.length) {
    return [
      `ODS_DATABASE_NAME_PATTERN uses ${unknown.map((u) => `{${u}}`).join(', ')}, not among ODS_CONTEXT_KEYS (${keys.join(',') || 'unset'})`,
    ];
  }
  if (/[{}]/.test(pattern.replace(PLACEHOLDER, ''))) return ['ODS_DATABASE_NAME_PATTERN has an unmatched { or }'];
  const rules = nameRulesFor(engine);
  const problems = new Set<string>();
  // Every combination of each used key's worst values (at most 2^5).
  let samples: OdsInstanceContext[][] = [[]];
  for (const key of new Set(used.map(fold))) {
    samples = samples.flatMap((s) => worstValues(key).map((v) => [...s, { contextKey: key, contextValue: v }]));
  }
  for (const sample of samples) {
    const name = deriveDatabaseName(pattern, sample);
    for (const p of rules.validate(name, new Set())) {
      problems.add(`ODS_DATABASE_NAME_PATTERN can produce ${JSON.stringify(name)}, which ${p} (${engine})`);
    }
  }
  return [...problems];
}
