/**
 * The deployment's templates (ODS_TEMPLATES): the databases a create may copy, each under a short
 * name clients use (`"template": "populated"`). Without ODS_TEMPLATES there are Ed-Fi's two:
 * `minimal` (ODS_TEMPLATE_DATABASE, EdFi_Ods_Minimal_Template unless set) and `populated`
 * (EdFi_Ods_Populated_Template). Every template's database is reserved: no operation may target it.
 */

export interface TemplateDefinition {
  /** What clients send: lower-case letters, digits and '-', compared case-insensitively. */
  name: string;
  /** The database on the ODS server that is copied. */
  database: string;
  /** The engine's copy strategy for this template (ODS_PG_CREATE_STRATEGY's or ODS_MSSQL_STRATEGY's values), or null for the engine's setting. */
  strategy: string | null;
  description: string;
}

export interface Templates {
  list: TemplateDefinition[];
  /** The template of a create that names none (ODS_DEFAULT_TEMPLATE, else the first). */
  defaultName: string;
}

export const TEMPLATE_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const MAX_TEMPLATES = 50;

export const POPULATED_TEMPLATE_DATABASE = 'EdFi_Ods_Populated_Template';

export function defaultTemplates(minimalDatabase: string): TemplateDefinition[] {
  return [
    {
      name: 'minimal',
      database: minimalDatabase,
      strategy: null,
      description: "Ed-Fi's minimal template: the schema and descriptors, no student data",
    },
    {
      name: 'populated',
      database: POPULATED_TEMPLATE_DATABASE,
      strategy: null,
      description: "Ed-Fi's populated template: the Grand Bend sample district's data, for testing and training",
    },
  ];
}

/** The template `name` stands for (case-insensitive), if configured. */
export function findTemplate(templates: Templates, name: string): TemplateDefinition | undefined {
  const wanted = name.toLowerCase();
  return templates.list.find((t) => t.name === wanted);
}

export function defaultTemplate(templates: Templates): TemplateDefinition {
  const found = findTemplate(templates, templates.defaultName);
  if (!found) throw new Error(`default template ${templates.defaultName} is not configured`);
  return found;
}

/** Whether `database` is one of the templates' databases (names compared case-insensitively, as both engines may). */
export function isTemplateDatabase(templates: Templates, database: string): boolean {
  const wanted = database.toLowerCase();
  return templates.list.some((t) => t.database.toLowerCase() === wanted);
}

interface RawTemplate {
  name?: unknown;
  database?: unknown;
  strategy?: unknown;
  description?: unknown;
}

/**
 * Reads ODS_TEMPLATES (a JSON array of `{name, database, strategy?, description?}`) and
 * ODS_DEFAULT_TEMPLATE. Problems name the variable and the entry; `strategies` are the engine's
 * choices (empty: the engine has none, and a template may not set one).
 */
export function parseTemplates(
  raw: string | undefined,
  defaultName: string | undefined,
  minimalDatabase: string,
  strategies: readonly string[],
): { templates: Templates; problems: string[] } {
  const problems: string[] = [];
  let list = defaultTemplates(minimalDatabase);
  if (raw !== undefined && raw.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > MAX_TEMPLATES) {
      problems.push(
        `ODS_TEMPLATES must be a JSON array of 1 to ${MAX_TEMPLATES} objects {"name", "database", "strategy"?, "description"?}`,
      );
    } else {
      list = parsed.map((entry: RawTemplate, i) => templateOf(entry, i, strategies, problems));
    }
  }
  const seen = new Map<string, string>();
  for (const t of list) {
    for (const [key, what] of [
      [`name:${t.name}`, 'name'],
      [`db:${t.database.toLowerCase()}`, 'database'],
    ] as const) {
      if (seen.has(key))
        problems.push(
          `ODS_TEMPLATES: two templates have the ${what} ${JSON.stringify(what === 'name' ? t.name : t.database)}`,
        );
      seen.set(key, t.name);
    }
  }
  const chosen = (defaultName ?? '').trim().toLowerCase() || list[0]?.name || 'minimal';
  if (!list.some((t) => t.name === chosen))
    problems.push(
      `ODS_DEFAULT_TEMPLATE=${JSON.stringify(defaultName)}: no such template (configured: ${list.map((t) => t.name).join(', ')})`,
    );
  return { templates: { list, defaultName: chosen }, problems };
}

function templateOf(
  entry: RawTemplate,
  i: number,
  strategies: readonly string[],
  problems: string[],
): TemplateDefinition {
  const at = `ODS_TEMPLATES[${i}]`;
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const name = text(entry?.name).toLowerCase();
  const database = text(entry?.database);
  const description = text(entry?.description);
  const strategy =
    entry?.strategy === undefined || entry?.strategy === null ? null : text(entry.strategy).toLowerCase();
  if (!TEMPLATE_NAME.test(name))
    problems.push(`${at}.name must be 1 to 40 lower-case letters, digits or '-', starting with a letter or digit`);
  if (!database || database.length > 128)
    problems.push(`${at}.database must be a database name of 1 to 128 characters`);
  if (description.length > 500) problems.push(`${at}.description must be at most 500 characters`);
  if (strategy !== null && !strategies.includes(strategy))
    problems.push(
      strategies.length
        ? `${at}.strategy must be one of ${strategies.join(', ')}`
        : `${at}.strategy: this engine has no copy strategies to choose from`,
    );
  return { name, database, strategy, description };
}
