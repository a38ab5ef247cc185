import { formDialog } from './actions.js';
import { api, ApiError, describeError, type Instance } from './api.js';
import { h } from './dom.js';
import { settings } from './settings.js';

/** One line of the textarea, as it would be sent; `problems` are found before anything is sent. */
interface Line {
  values: string[];
  item: Record<string, unknown> | null;
  problems: string[];
}

/**
 * Values of one line: separated by tabs when it has any (a paste from a spreadsheet), else by
 * commas; a value in double quotes may hold commas ("" is a quote).
 */
export function splitLine(line: string): string[] {
  if (line.includes('\t')) return line.split('\t').map((v) => v.trim());
  const values: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"' && !current.trim()) {
      quoted = true;
      current = '';
    } else if (c === ',') {
      values.push(current.trim());
      current = '';
    } else current += c;
  }
  values.push(current.trim());
  return values;
}

/** The columns of a line in this deployment's mode: the name, each context key, then the database name. */
function columnsOf(contextKeys: string[], databaseNamePattern: string | null) {
  const labels = ['Instance name', ...contextKeys, databaseNamePattern ? 'Database name (optional)' : 'Database name'];
  const required = databaseNamePattern ? labels.length - 1 : labels.length;
  return { labels, required };
}

function parseLines(text: string, contextKeys: string[], databaseNamePattern: string | null): Line[] {
  const { labels, required } = columnsOf(contextKeys, databaseNamePattern);
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((raw) => {
      const values = splitLine(raw);
      if (values.length < required || values.length > labels.length) {
        const expected = required === labels.length ? `${required}` : `${required} or ${labels.length}`;
        return {
          values,
          item: null,
          problems: [`Expected ${expected} values (${labels.join(', ')}); found ${values.length}.`],
        };
      }
      const databaseName = values[contextKeys.length + 1];
      const item = {
        instanceName: values[0],
        ...(contextKeys.length
          ? { odsInstanceContexts: contextKeys.map((contextKey, i) => ({ contextKey, contextValue: values[i + 1] })) }
          : {}),
        ...(databaseName || !databaseNamePattern ? { databaseName: databaseName ?? '' } : {}),
      };
      return { values, item, problems: [] };
    });
}

/** `instances[3].databaseName` → 3; a refusal of the whole request (`instances`) has no index. */
function itemIndexOf(key: string): number | null {
  const match = /^instances\[(\d+)\]/.exec(key);
  return match ? Number(match[1]) : null;
}

/**
 * "Create several": one instance per line, a preview of how each line is read, and the API's
 * refusals beside the lines they concern. All or nothing, as the API is: a refused request
 * creates none of them.
 */
export function createSeveralInstances(done: () => void): void {
  void settings().then(({ contextKeys, databaseNamePattern }) => {
    const { labels } = columnsOf(contextKeys, databaseNamePattern);
    const example = [
      'Grand Bend ISD 2027',
      ...contextKeys.map((k) => (k.toLowerCase() === 'schoolyearfromroute' ? '2027' : '255901')),
      ...(databaseNamePattern ? [] : ['EdFi_Ods_Grand_Bend_2027']),
    ].join(', ');
    const textarea = h('textarea', {
      id: 'bulk-lines',
      rows: 6,
      spellcheck: 'false',
      autocomplete: 'off',
      'aria-describedby': 'bulk-lines-hint',
    });
    const summary = h('p', { class: 'field-error', id: 'bulk-lines-error', hidden: true });
    const hint = h(
      'p',
      { class: 'hint', id: 'bulk-lines-hint' },
      `One instance per line: ${labels.join(', ')}, separated by commas or tabs (quote a value that holds a comma). ` +
        `For example: ${example}.` +
        (databaseNamePattern ? ` A left-out database name is made from the pattern ${databaseNamePattern}.` : ''),
    );
    const previewBody = h('tbody');
    const previewCount = h('p', { class: 'hint', id: 'bulk-preview-count', 'aria-live': 'polite' });
    const preview = h(
      'table',
      { class: 'data preview', id: 'bulk-preview' },
      h('caption', {}, 'Preview'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Line'),
          ...labels.map((l) => h('th', { scope: 'col' }, l.replace(' (optional)', ''))),
          h('th', { scope: 'col' }, 'Problems'),
        ),
      ),
      previewBody,
    );

    let lines: Line[] = [];
    /** Problems the API named, by item index (the n-th non-empty line). */
    let refused = new Map<number, string[]>();
    const render = () => {
      previewBody.replaceChildren(
        ...lines.map((line, i) => {
          const problems = [...line.problems, ...(refused.get(i) ?? [])];
          return h(
            'tr',
            { class: problems.length ? 'invalid' : null, 'data-line': i + 1 },
            h('th', { scope: 'row' }, String(i + 1)),
            ...labels.map((_, c) => h('td', { class: c === 0 ? null : 'mono' }, line.values[c] ?? '')),
            h('td', { class: 'error-text' }, problems.join(' ')),
          );
        }),
      );
      preview.hidden = !lines.length;
      previewCount.textContent = lines.length
        ? `${lines.length} instance${lines.length === 1 ? '' : 's'} to create.`
        : 'No lines yet.';
      const bad = lines.flatMap((line, i) => (line.problems.length || refused.has(i) ? [i + 1] : []));
      summary.textContent = bad.length
        ? `Line${bad.length === 1 ? '' : 's'} ${bad.join(', ')}: see the problems in the preview.`
        : '';
      summary.hidden = !bad.length;
      if (bad.length) {
        textarea.setAttribute('aria-invalid', 'true');
        textarea.setAttribute('aria-describedby', 'bulk-lines-hint bulk-lines-error');
      } else {
        textarea.removeAttribute('aria-invalid');
        textarea.setAttribute('aria-describedby', 'bulk-lines-hint');
      }
    };
    textarea.addEventListener('input', () => {
      lines = parseLines(textarea.value, contextKeys, databaseNamePattern);
      refused = new Map();
      render();
    });
    render();

    const fail = (alert: HTMLElement, message: string): undefined => {
      alert.textContent = message;
      alert.hidden = false;
      alert.focus();
      return undefined;
    };

    formDialog<Instance[]>({
      title: 'Create several instances',
      content: [
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'bulk-lines' }, 'Instances, one per line'),
          hint,
          textarea,
          summary,
        ),
        previewCount,
        h(
          'div',
          { class: 'preview-scroll', role: 'region', 'aria-label': 'Preview of the lines', tabindex: '0' },
          preview,
        ),
      ],
      fields: {},
      submitLabel: 'Create all',
      submit: async (alert) => {
        lines = parseLines(textarea.value, contextKeys, databaseNamePattern);
        refused = new Map();
        render();
        if (!lines.length) return fail(alert, 'Enter at least one line.');
        if (lines.some((l) => l.problems.length)) return fail(alert, 'Correct the marked lines; nothing was sent.');
        try {
          return (
            await api<{ instances: Instance[] }>('POST', '/admin/instances/bulk', {
              instances: lines.map((l) => l.item),
            })
          ).body.instances;
        } catch (err) {
          const byKey = err instanceof ApiError ? (err.problem.errors ?? {}) : {};
          const general: string[] = [];
          for (const [key, messages] of Object.entries(byKey)) {
            const index = itemIndexOf(key);
            if (index === null || index >= lines.length) general.push(...messages);
            else refused.set(index, [...(refused.get(index) ?? []), ...messages]);
          }
          render();
          if (!refused.size) throw err;
          return fail(
            alert,
            `${describeError(err)} ${general.join(' ')} Correct the marked lines and send them again.`.replace(
              /\s+/g,
              ' ',
            ),
          );
        }
      },
      done: () => done(),
      announce: (created) => `Creating ${created.length} instances.`,
    });
  });
}
