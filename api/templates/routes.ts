import { Router } from 'express';
import type { DatabaseFacts } from '../../shared/inventory/store';
import type { TemplateDefinition } from '../../shared/templates';
import { requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import type { TemplateCatalog } from './catalog';

/**
 * The inventory's facts for these databases, by lower-cased name, or null when no inventory has
 * run yet (InventoryStore.databaseFacts). The API never looks at the ODS server itself.
 */
export type TemplateFactsSource = (databases: string[]) => Promise<Map<string, DatabaseFacts> | null>;

function templateView(
  template: TemplateDefinition,
  isDefault: boolean,
  facts: Map<string, DatabaseFacts> | null,
  now: number,
) {
  const seen = facts?.get(template.database.toLowerCase());
  return {
    name: template.name,
    databaseName: template.database,
    description: template.description,
    strategy: template.strategy,
    default: isDefault,
    // null: no inventory has run since the manager started keeping one.
    inventory: seen
      ? {
          observedAt: seen.observedAt.toISOString(),
          ageSeconds: Math.max(0, Math.round((now - seen.observedAt.getTime()) / 1000)),
          exists: seen.exists,
          sizeBytes: seen.sizeBytes,
          edfiOdsVersion: seen.edfiOdsVersion,
          edfiStandardVersion: seen.edfiStandardVersion,
        }
      : null,
  };
}

/** `GET /admin/templates`: what a create may copy, with what the last inventory saw of each. */
export function templateRoutes(catalog: TemplateCatalog, factsOf: TemplateFactsSource): Router {
  const router = Router();
  router.get('/admin/templates', requireAccess('read'), async (_req, res) => {
    const facts = await factsOf(catalog.list.map((t) => t.database));
    const now = Date.now();
    const defaultName = catalog.default.name;
    res.json(catalog.list.map((t) => templateView(t, t.name === defaultName, facts, now)));
  });
  router.all('/admin/templates', onlyMethods('GET'));
  return router;
}
