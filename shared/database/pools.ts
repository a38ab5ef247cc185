/** Settings shared by this code base's pg pools: the admin database's and the worker's ODS server pool. */

/**
 * For the pools: an idle connection beyond the first is closed after 10 s (pg's default), the first
 * is kept. A new session costs a few milliseconds on a good server (11 ms on the benchmark VM) and an
 * administrator's occasional create would otherwise open one in every pool on its way: benchmark 1's
 * sporadic creates in docs/benchmarks.md.
 */
export const KEEP_ONE_WARM = { min: 1 } as const;
