/** Where each resource lives, and the id shape every `:id` has: shared by all routes and views. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else names no resource (404) and never reaches a query. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export const instancePath = (id: string) => `/admin/instances/${id}`;
export const jobPath = (id: string) => `/admin/jobs/${id}`;
