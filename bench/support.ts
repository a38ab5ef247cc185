/** What every benchmark script reads its settings and reports its progress with. */

/** A setting from the environment: a positive integer, or the fallback when unset. */
export function positiveInt(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return n;
}

/** Progress goes to stderr, so stdout carries only the markdown of the results. */
export const progress = (line: string) => process.stderr.write(`${line}\n`);
