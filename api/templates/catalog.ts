import { ValidationError } from '../../shared/errors';
import { defaultTemplate, findTemplate, type TemplateDefinition, type Templates } from '../../shared/templates';

/** The configured templates as the API uses them: which one a create copies, and what clients may see of them. */
export class TemplateCatalog {
  constructor(readonly templates: Templates) {}

  get list(): readonly TemplateDefinition[] {
    return this.templates.list;
  }

  get default(): TemplateDefinition {
    return defaultTemplate(this.templates);
  }

  /** The template a create copies: the one named (case-insensitively), or the default; 400 for a name not configured. */
  resolve(name: string | undefined | null): TemplateDefinition {
    if (name === undefined || name === null) return this.default;
    const found = findTemplate(this.templates, name);
    if (found) return found;
    throw new ValidationError('The request body is invalid.', {
      template: [
        `template ${JSON.stringify(name.slice(0, 40))} is not configured; the templates are ${this.list.map((t) => t.name).join(', ')} (GET /admin/templates)`,
      ],
    });
  }
}
