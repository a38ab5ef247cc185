import { api } from './api.js';

/** GET /admin/settings: what the create form and the tenant selector need. */
export interface Settings {
  contextKeys: string[];
  databaseNamePattern: string | null;
  tenants: string[];
  /** INSTANCE_DELETES_ENABLED: false, no instance can be deleted (the pages say so). */
  instanceDeletesEnabled: boolean;
  /** ODS_ENGINE: a copy on postgres must agree to end the source's sessions. */
  engine: string;
}

const NONE: Settings = {
  contextKeys: [],
  databaseNamePattern: null,
  tenants: [],
  instanceDeletesEnabled: true,
  engine: '',
};
let loaded: Promise<Settings> | undefined;

/** Asked once per sign-in; an API that cannot say is taken to have no mode and no tenants. */
export function settings(): Promise<Settings> {
  loaded ??= api<Settings>('GET', '/admin/settings').then(
    (r) => r.body,
    () => {
      loaded = undefined;
      return NONE;
    },
  );
  return loaded;
}

export function forgetSettings(): void {
  loaded = undefined;
}
