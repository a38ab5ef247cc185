import { formDialog } from './actions.js';
import { api, type Instance } from './api.js';
import { field, formAlert, showProblem } from './components.js';
import { h } from './dom.js';

/** One item of POST /admin/instances/rollover's answer (docs/rollover.md). */
interface RolloverItem {
  source: { id: string; instanceName: string; databaseName: string; status: string };
  action: 'create' | 'skip';
  reason?: string;
  successor?: { instanceName: string; databaseName: string };
  instance?: Instance;
}

interface RolloverResult {
  dryRun: boolean;
  creates: number;
  skips: number;
  items: RolloverItem[];
}

/** A year typed as digits is sent as a number; anything else as typed, for the API to name. */
const yearValue = (text: string): number | string => (/^\d{1,4}$/.test(text.trim()) ? Number(text.trim()) : text);

/**
 * "School-year rollover": the two years and the mode, a Preview of the dry run (each source's
 * successor or why it is skipped), then Create, which sends the same request for real.
 */
export function schoolYearRollover(done: () => void): void {
  const thisYear = new Date().getFullYear();
  const fields = {
    fromSchoolYear: field('rollover', 'fromSchoolYear', 'From school year', {
      value: String(thisYear),
      hint: 'Instances whose schoolYearFromRoute is this year are rolled over.',
    }),
    toSchoolYear: field('rollover', 'toSchoolYear', 'To school year', {
      value: String(thisYear + 1),
      hint: 'The school year of the new instances.',
    }),
  };
  const mode = h(
    'select',
    { id: 'rollover-mode', name: 'mode' },
    h('option', { value: 'template' }, 'Template: new, empty databases'),
    h('option', { value: 'copy' }, 'Copy: each from its source’s database'),
  );
  const body = () => ({
    fromSchoolYear: yearValue(fields.fromSchoolYear.input.value),
    toSchoolYear: yearValue(fields.toSchoolYear.input.value),
    mode: mode.value,
  });

  const summary = h('p', { class: 'hint', id: 'rollover-summary', 'aria-live': 'polite' });
  const rows = h('tbody');
  const table = h(
    'table',
    { class: 'data preview', id: 'rollover-preview', hidden: true },
    h('caption', {}, 'Rollover preview'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Source', 'Action', 'New instance name', 'New database name', 'Reason'].map((label) =>
          h('th', { scope: 'col' }, label),
        ),
      ),
    ),
    rows,
  );
  const show = (result: RolloverResult) => {
    rows.replaceChildren(
      ...result.items.map((item) =>
        h(
          'tr',
          { class: item.action === 'skip' ? 'skipped' : null, 'data-action': item.action },
          h('th', { scope: 'row' }, item.source.instanceName),
          h('td', {}, item.action === 'create' ? 'Create' : 'Skip'),
          h('td', {}, item.successor?.instanceName ?? ''),
          h('td', { class: 'mono' }, item.successor?.databaseName ?? ''),
          h('td', {}, item.reason ?? ''),
        ),
      ),
    );
    table.hidden = !result.items.length;
    const verb = result.dryRun ? 'would be created' : 'created';
    summary.textContent = result.items.length
      ? `${result.creates} instance${result.creates === 1 ? '' : 's'} ${verb}, ${result.skips} skipped.`
      : 'No instance has this school year.';
  };

  const previewAlert = formAlert();
  const preview = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      id: 'rollover-preview-button',
      onclick: () => {
        previewAlert.hidden = true;
        preview.disabled = true;
        api<RolloverResult>('POST', '/admin/instances/rollover?dryRun=true', body())
          .then(({ body: result }) => {
            for (const f of Object.values(fields)) f.showError(undefined);
            show(result);
          })
          .catch((err: unknown) => showProblem(err, fields, previewAlert))
          .finally(() => (preview.disabled = false));
      },
    },
    'Preview',
  );

  formDialog<RolloverResult>({
    title: 'School-year rollover',
    content: [
      h(
        'p',
        { class: 'hint' },
        'Creates, for every Created instance of the first year, its instance of the second: the same contexts with the new year, ' +
          'the year replaced in its names. Instances whose successor exists are skipped, so running it again is safe.',
      ),
      fields.fromSchoolYear.row,
      fields.toSchoolYear.row,
      h('div', { class: 'field' }, h('label', { for: 'rollover-mode' }, 'New databases'), mode),
      h('div', { class: 'buttons' }, preview),
      previewAlert,
      summary,
      h('div', { class: 'preview-scroll', role: 'region', 'aria-label': 'Rollover preview', tabindex: '0' }, table),
    ],
    fields,
    submitLabel: 'Create',
    submit: async (alert) => {
      previewAlert.hidden = true;
      const { body: result } = await api<RolloverResult>('POST', '/admin/instances/rollover', body());
      for (const f of Object.values(fields)) f.showError(undefined);
      show(result);
      if (result.creates) return result;
      alert.textContent = 'Nothing was created: every instance of this year is skipped (see the reasons).';
      alert.hidden = false;
      alert.focus();
      return undefined;
    },
    done: () => done(),
    announce: (result) => `Creating ${result.creates} instances for the new school year.`,
  });
}
