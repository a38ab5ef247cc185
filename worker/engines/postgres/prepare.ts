import type { Logger } from '../../../shared/logger';
import { ensureStandInTemplate, QUICKSTART_SCALE } from '../../templates/stand-in';

/** The quickstart's stand-in template, made once when asked for (ODS_TEMPLATE_STANDIN). */
export async function prepareQuickstartTemplate(context: {
  serverUrl: string;
  templateDatabase: string;
  createStandInTemplate: boolean;
  log: Logger;
}): Promise<void> {
  if (!context.createStandInTemplate) return;
  await ensureStandInTemplate(context.serverUrl, context.templateDatabase, QUICKSTART_SCALE, context.log);
}
