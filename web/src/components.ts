import { ApiError, describeError, type Problem } from './api.js';
import { h } from './dom.js';

/** A status as text and colour (never colour alone), with its failure reason when it has one. */
export function statusBadge(status: string): HTMLElement {
  const tone = status.endsWith('Failed')
    ? 'failed'
    : status === 'Created' || status === 'succeeded'
      ? 'ok'
      : status === 'Deleted' || status === 'Released'
        ? 'neutral'
        : status === 'failed'
          ? 'failed'
          : 'busy';
  return h('span', { class: `badge badge-${tone}`, 'data-status': status }, status);
}

/** Protection as words, not only a colour or an icon: the list and the instance page show the same. */
export function protectedBadge(): HTMLElement {
  return h('span', { class: 'badge badge-protected', 'data-protected': 'true' }, 'Protected');
}

/** Drift (docs/inventory.md): a badge naming its kind, and its detail as text beside it. */
export function driftBadge(drift: { kind: string; detail: string }): HTMLElement {
  return h(
    'span',
    { class: 'drift' },
    h(
      'span',
      { class: 'badge badge-drift', 'data-drift': drift.kind },
      drift.kind === 'missing' ? 'Drift: database missing' : 'Drift: marker',
    ),
    h('span', { class: 'drift-detail' }, drift.detail),
  );
}

/** A database size for people: 7.9 MB. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'unknown';
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** How long ago, in words: "12 s ago", "5 min ago". */
export function formatAge(seconds: number): string {
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** An instance registered from an existing database (adopt), whose DELETE keeps the database unless told to drop it. */
export function adoptedBadge(): HTMLElement {
  return h('span', { class: 'badge badge-adopted', 'data-adopted': 'true' }, 'Adopted');
}

/** Said where a deployment's instances cannot be deleted, so a missing Delete button has a reason. */
export const DELETES_OFF_NOTICE =
  'Deleting instances is turned off in this deployment (INSTANCE_DELETES_ENABLED=false): no instance can be deleted.';

export interface Field {
  row: HTMLElement;
  input: HTMLInputElement | HTMLSelectElement;
  showError(messages: string[] | undefined): void;
}

/** A labelled input whose errors are announced and tied to it (aria-describedby, aria-invalid). */
export function field(
  formId: string,
  name: string,
  label: string,
  options: { value?: string; hint?: string; type?: string; autocomplete?: string } = {},
): Field & { input: HTMLInputElement } {
  const id = `${formId}-${name}`;
  const input = h('input', {
    id,
    name,
    type: options.type ?? 'text',
    autocomplete: options.autocomplete ?? 'off',
    spellcheck: 'false',
  });
  input.value = options.value ?? '';
  return labelled(id, label, input, options.hint);
}

/** A labelled choice among `choices` (value, text), with errors shown as a field's are. */
export function selectField(
  formId: string,
  name: string,
  label: string,
  choices: [value: string, text: string][],
  options: { hint?: string } = {},
): Field & { input: HTMLSelectElement } {
  const id = `${formId}-${name}`;
  const input = h('select', { id, name }, ...choices.map(([value, text]) => h('option', { value }, text)));
  return labelled(id, label, input, options.hint);
}

function labelled<E extends HTMLInputElement | HTMLSelectElement>(
  id: string,
  label: string,
  input: E,
  hintText: string | undefined,
): Field & { input: E } {
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const hint = hintText ? h('p', { class: 'hint', id: `${id}-hint` }, hintText) : null;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  const row = h('div', { class: 'field' }, h('label', { for: id }, label), hint, input, error);
  return {
    row,
    input,
    showError(messages) {
      const described = [hint ? `${id}-hint` : '', messages?.length ? `${id}-error` : ''].filter(Boolean).join(' ');
      if (described) input.setAttribute('aria-describedby', described);
      else input.removeAttribute('aria-describedby');
      if (messages?.length) {
        error.textContent = messages.join(' ');
        error.hidden = false;
        input.setAttribute('aria-invalid', 'true');
      } else {
        error.textContent = '';
        error.hidden = true;
        input.removeAttribute('aria-invalid');
      }
    },
  };
}

/**
 * Shows an API refusal on a form: per-field messages beside their fields (400), the rest in the
 * form's alert, with what a 409 or 429 means in this product. Focus goes to the first bad field.
 */
export function showProblem(err: unknown, fields: Record<string, Field>, alert: HTMLElement): void {
  const problem: Problem | undefined = err instanceof ApiError ? err.problem : undefined;
  const byField = problem?.errors ?? {};
  let first: HTMLInputElement | HTMLSelectElement | undefined;
  for (const [name, f] of Object.entries(fields)) {
    f.showError(byField[name]);
    if (byField[name]?.length && !first) first = f.input;
  }
  const rest = Object.entries(byField)
    .filter(([name]) => !fields[name])
    .flatMap(([, messages]) => messages);
  let message = first ? 'Correct the marked fields.' : describeError(err);
  if (err instanceof ApiError && err.status === 409) {
    message = `${describeError(err)} Another instance may use this name, or the instance is busy with an operation: wait for it to finish.`;
  }
  if (rest.length) message += ` ${rest.join(' ')}`;
  alert.textContent = message;
  alert.hidden = false;
  (first ?? alert).focus();
}

export interface Dialog {
  element: HTMLDialogElement;
  close(): void;
}

/** A modal dialog (focus is kept inside; Escape closes it unless it may not be dismissed). */
export function openDialog(title: string, content: HTMLElement[], options: { dismissible?: boolean } = {}): Dialog {
  const titleId = `dialog-title-${Math.random().toString(36).slice(2, 8)}`;
  const element = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), ...content);
  if (options.dismissible === false) element.addEventListener('cancel', (event) => event.preventDefault());
  element.addEventListener('close', () => element.remove());
  document.body.append(element);
  element.showModal();
  return { element, close: () => element.close() };
}

export function formAlert(): HTMLElement {
  return h('p', { class: 'form-alert', role: 'alert', tabindex: '-1', hidden: true });
}

/**
 * "Showing x–y of N" and the previous and next page. `next` is the API's cursor of the page after
 * this one (Next-Cursor), handed to `go` with the next offset so the list can page on by cursor.
 */
export function pager(
  offset: number,
  count: number,
  total: number,
  go: (offset: number, after?: string) => void,
  limit: number,
  next?: string,
) {
  const summary = total === 0 ? 'Nothing to show' : `Showing ${offset + 1}–${offset + count} of ${total}`;
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('span', {}, summary),
    h(
      'button',
      { type: 'button', class: 'secondary', disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) },
      'Previous page',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        disabled: offset + count >= total,
        onclick: () => go(offset + limit, next),
      },
      'Next page',
    ),
  );
}
