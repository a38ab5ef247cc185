import { Initial1764061200000 } from './1764061200000-Initial';
import { Deployment1764150000000 } from './1764150000000-Deployment';
import { JobWarnings1764160000000 } from './1764160000000-JobWarnings';
import { InstanceNameKey1764170000000 } from './1764170000000-InstanceNameKey';
import { Events1764180000000 } from './1764180000000-Events';
import { JobsList1764190000000 } from './1764190000000-JobsList';
import { EdFiRegistration1764200000000 } from './1764200000000-EdFiRegistration';
import { TenantInstanceNames1764205000000 } from './1764205000000-TenantInstanceNames';
import { InstanceProtection1764210000000 } from './1764210000000-InstanceProtection';
import { InstanceTemplate1764215000000 } from './1764215000000-InstanceTemplate';
import { Inventory1764220000000 } from './1764220000000-Inventory';
import { CopySource1764230000000 } from './1764230000000-CopySource';
import { Adoption1764240000000 } from './1764240000000-Adoption';
import { ListingIndexes1764250000000 } from './1764250000000-ListingIndexes';
import { InstanceCounts1764260000000 } from './1764260000000-InstanceCounts';
import { ProtectedListing1764270000000 } from './1764270000000-ProtectedListing';

/** Oldest first, one for each PostgreSQL migration, under the same class name and timestamp. */
export const MSSQL_MIGRATIONS = [
  Initial1764061200000,
  Deployment1764150000000,
  JobWarnings1764160000000,
  InstanceNameKey1764170000000,
  Events1764180000000,
  JobsList1764190000000,
  EdFiRegistration1764200000000,
  TenantInstanceNames1764205000000,
  InstanceProtection1764210000000,
  InstanceTemplate1764215000000,
  Inventory1764220000000,
  CopySource1764230000000,
  Adoption1764240000000,
  ListingIndexes1764250000000,
  InstanceCounts1764260000000,
  ProtectedListing1764270000000,
] as const;
