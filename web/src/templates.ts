import { api } from './api.js';

/** GET /admin/templates: what a create may copy, and what the worker's last inventory saw of it. */
export interface Template {
  name: string;
  databaseName: string;
  description: string;
  strategy: string | null;
  default: boolean;
  inventory: {
    observedAt: string;
    ageSeconds: number;
    exists: boolean;
    sizeBytes: number | null;
    edfiOdsVersion: string | null;
    edfiStandardVersion: string | null;
  } | null;
}

/** The templates, the default first; an API that cannot say gives none (the form then leaves the choice to the API). */
export async function templates(): Promise<Template[]> {
  try {
    const list = (await api<Template[]>('GET', '/admin/templates')).body;
    return [...list.filter((t) => t.default), ...list.filter((t) => !t.default)];
  } catch {
    return [];
  }
}

/** "populated: Ed-Fi's populated template… (EdFi_Ods_Populated_Template, data standard 5.2)" */
export function templateLabel(t: Template): string {
  const facts = t.inventory;
  const seen = !facts
    ? ''
    : !facts.exists
      ? ', not on the server'
      : facts.edfiStandardVersion
        ? `, data standard ${facts.edfiStandardVersion}`
        : '';
  return `${t.name}${t.description ? `: ${t.description}` : ''} (${t.databaseName}${seen})`;
}
