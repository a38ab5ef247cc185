/** Where the tests find the real services; override to point them elsewhere. */
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Ed-Fi-sized stand-in template, built once and kept between runs (its name carries the generator's version). */
export const EDFI_TEMPLATE = 'odsim_test_template_edfi_v1';
/** A small template for tests that hold sessions open on it. */
export const SMALL_TEMPLATE = 'odsim_test_template_small_v1';

export function urlFor(database: string): string {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}
