/**
 * Names of the constraints that encode business rules. The API maps a violation of each to
 * a 409 with a precise message; the migrations of every dialect create them under these names.
 */
export const CONSTRAINTS = {
  activeInstanceName: 'uq_instances_active_name',
  databaseNameClaim: 'pk_database_name_claims',
  oneUnfinishedJob: 'uq_jobs_one_unfinished_per_instance',
  clientId: 'uq_api_clients_client_id',
  /** Two live instances of one tenant may not carry the same contexts: the ODS/API could not tell them apart. */
  contextSet: 'ux_instances_context_set',
} as const;
