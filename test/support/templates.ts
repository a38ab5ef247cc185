import { silentLogger } from '../../shared/logger';
import { ED_FI_SCALE, ensureStandInTemplate } from '../../worker/templates/stand-in';
import { EDFI_TEMPLATE, POSTGRES_URL, SMALL_TEMPLATE } from './settings';

let ready: Promise<void> | undefined;

/** Builds the test templates once per machine; later runs find them and reuse them. */
export function ensureTestTemplates(): Promise<void> {
  ready ??= (async () => {
    await ensureStandInTemplate(POSTGRES_URL, EDFI_TEMPLATE, ED_FI_SCALE, silentLogger());
    await ensureStandInTemplate(POSTGRES_URL, SMALL_TEMPLATE, { tables: 9, views: 2, rowsPerTable: 2 }, silentLogger());
  })();
  return ready;
}
