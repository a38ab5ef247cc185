/**
 * Databases the manager creates while cloning carry this prefix and the job id; a name a
 * user asks for may not start with it, so such a database is always the manager's own.
 */
export const STAGING_PREFIX = 'odsim_staging_';

export function stagingDatabaseName(jobId: string): string {
  return STAGING_PREFIX + jobId.replace(/-/g, '');
}
