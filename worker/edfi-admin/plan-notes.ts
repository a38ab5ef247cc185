import type { Operation } from '../../shared/instances/status';

/**
 * What a plan says about EdFi_Admin. Only the worker knows whether it registers instances
 * (EDFI_ADMIN_DATABASE_URL is a worker setting the API never reads), so the plan says what
 * happens where it does; an instance with an OdsInstanceId is known to be registered.
 */
export function registrationNotes(
  operation: Operation,
  instance: { odsInstanceId: number | null },
  options: { force?: boolean; adopt?: boolean } = {},
): string[] {
  const where = 'Where the worker registers instances in EdFi_Admin (EDFI_ADMIN_DATABASE_URL, per tenant with TENANTS)';
  const elsewhere =
    "Those statements run on the tenant's EdFi_Admin database, not on the ODS server, and are not listed here.";
  const row = instance.odsInstanceId === null ? null : `dbo.OdsInstances row ${instance.odsInstanceId}`;
  if (operation === 'create' && options.adopt)
    return [
      `${where}, it first checks the client keys, the (Name, InstanceType) it would write and that no other dbo.OdsInstances row names this database, and after marking inserts the row, its contexts and client links; if EdFi_Admin refuses, the marker is removed again (the database is never dropped). ${elsewhere}`,
    ];
  if (operation === 'create')
    return [
      `${where}, it first checks the client keys and the (Name, InstanceType) it would write, and after the copy inserts the dbo.OdsInstances row (with the encrypted ConnectionString), its dbo.OdsInstanceContexts and dbo.ApiClientOdsInstances links; if EdFi_Admin refuses, the new copy is dropped. ${elsewhere}`,
    ];
  if (operation === 'rename')
    return [
      row
        ? `The instance is registered in EdFi_Admin (${row}): after the rename the worker updates its ConnectionString (re-encrypted, naming the new database) and its Name. ${elsewhere}`
        : `${where}, it also re-points the instance's dbo.OdsInstances row, if it finds one, to the new database. ${elsewhere}`,
    ];
  const links = options.force
    ? 'with force=true it removes the dbo.ApiClientOdsInstances links and dbo.OdsInstanceDerivatives that point at the row too'
    : 'it refuses (and drops nothing) while dbo.ApiClientOdsInstances links or dbo.OdsInstanceDerivatives point at the row, unless the request says force=true';
  if (operation === 'release')
    return [
      row
        ? `The instance is registered in EdFi_Admin (${row}): before removing the marker the worker removes that row and its dbo.OdsInstanceContexts; ${links.replace('drops nothing', 'changes nothing')}. ${elsewhere}`
        : `${where}, before removing the marker it removes the instance's dbo.OdsInstances row and contexts, if it finds them; ${links.replace('drops nothing', 'changes nothing')}. ${elsewhere}`,
    ];
  return [
    row
      ? `The instance is registered in EdFi_Admin (${row}): before the drop the worker removes that row and its dbo.OdsInstanceContexts; ${links}. ${elsewhere}`
      : `${where}, before the drop it removes the instance's dbo.OdsInstances row and contexts, if it finds them; ${links}. ${elsewhere}`,
  ];
}
