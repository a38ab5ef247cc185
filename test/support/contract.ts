import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import { OPENAPI_DOCUMENT } from '../../api/openapi/document';

interface ResponseSpec {
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, { schema: unknown }>;
}
type Operation = { responses: Record<string, ResponseSpec> };
type PathItem = Record<string, unknown>;

const ajv = new Ajv2020({ strict: false, allErrors: true });
// Formats are checked loosely here: ajv-formats would add a dependency for two strings.
ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
ajv.addFormat('date-time', (value: string) => !Number.isNaN(Date.parse(value)) && /T/.test(value));
ajv.addSchema({ ...OPENAPI_DOCUMENT, $id: 'openapi' }, 'openapi');

const paths = Object.entries(OPENAPI_DOCUMENT.paths as Record<string, PathItem>).map(([template, item]) => ({
  template,
  item,
  pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
}));

const validators = new Map<string, ValidateFunction>();
function validatorFor(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `openapi#${pointer}` });
    validators.set(pointer, validate);
  }
  return validate;
}

const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * What is wrong with a response the API gave, measured against its OpenAPI document: an
 * undocumented status, a missing required header, a content type or a body that does not
 * match. Routes the document does not know (a 404 for a made-up path) only need problem+json.
 */
export function contractProblems(
  method: string,
  url: string,
  status: number,
  headers: Headers,
  body: unknown,
): string[] {
  const path = new URL(url, 'http://x').pathname;
  const contentType = (headers.get('content-type') ?? '').split(';')[0]!.trim();
  const where = `${method} ${path} → ${status}`;
  const entry = paths.find((p) => p.pattern.test(path));
  const verb = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
  const operation = entry?.item[verb] as Operation | undefined;
  if (!entry || !operation) {
    return status >= 400 && contentType !== 'application/problem+json' ? [`${where}: not problem+json`] : [];
  }
  const response = operation.responses[String(status)];
  if (!response) return [`${where}: status not in the OpenAPI document`];
  const problems: string[] = [];
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    if (header.required && headers.get(name) === null) problems.push(`${where}: missing header ${name}`);
  }
  if (!response.content) return problems;
  if (!(contentType in response.content)) {
    return [
      ...problems,
      `${where}: content type ${contentType || '(none)'} not in ${Object.keys(response.content).join(', ')}`,
    ];
  }
  if (contentType === 'text/event-stream') return problems;
  const pointer = `/paths/${escape(entry.template)}/${verb}/responses/${status}/content/${escape(contentType)}/schema`;
  const validate = validatorFor(pointer);
  if (!validate(body)) {
    problems.push(`${where}: body does not match: ${ajv.errorsText(validate.errors, { separator: '; ' })}`);
  }
  return problems;
}
