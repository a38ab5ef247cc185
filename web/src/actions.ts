import { api, describeError, type Instance } from './api.js';
import { type Field, field, formAlert, openDialog, selectField, showProblem } from './components.js';
import { announce, h } from './dom.js';
import { settings } from './settings.js';
import { templateLabel, templates } from './templates.js';

type Done = (instance: Instance) => void;

/**
 * A dialog holding one form: its content, an alert for refusals, the submit button and Cancel.
 * `submit` returns the accepted instance (the dialog closes and `done` is told) or throws the
 * API's refusal (shown beside `fields` and in the alert). The button is disabled while a
 * request runs, so a double click sends one request.
 */
export function formDialog<T = Instance>(options: {
  title: string;
  content: HTMLElement[];
  fields: Record<string, Field>;
  submitLabel: string;
  danger?: boolean;
  submit: (alert: HTMLElement) => Promise<T | undefined>;
  done: (accepted: T) => void;
  announce: (accepted: T) => string;
}): HTMLButtonElement {
  const alert = formAlert();
  const button = h('button', { type: 'submit', class: options.danger ? 'danger' : null }, options.submitLabel);
  const form = h(
    'form',
    { novalidate: true },
    ...options.content,
    alert,
    h(
      'div',
      { class: 'buttons' },
      button,
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    ),
  );
  const dialog = openDialog(options.title, [form]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    options
      .submit(alert)
      .then((instance) => {
        if (!instance) return;
        dialog.close();
        announce(options.announce(instance));
        options.done(instance);
      })
      .catch((err: unknown) => showProblem(err, options.fields, alert))
      .finally(() => (button.disabled = false));
  });
  return button;
}

/** The create, rename, delete and retry actions; `done` is told when the API accepted the request. */
export function createInstance(done: Done): void {
  void Promise.all([settings(), copyableInstances(), templates()]).then(
    ([{ contextKeys, databaseNamePattern, engine }, sources, offered]) => {
      // One field per context key of the deployment's mode (ODS_CONTEXT_KEYS), labelled by the key.
      const contexts = contextKeys.map((key) =>
        field('create', `context-${key}`, key, {
          hint: key.toLowerCase() === 'schoolyearfromroute' ? 'Four digits, e.g. 2026.' : undefined,
        }),
      );
      const f: Record<string, Field> = {
        instanceName: field('create', 'instanceName', 'Instance name', {
          hint: 'Shown to people, e.g. "Grand Bend ISD 2026".',
        }),
        databaseName: field(
          'create',
          'databaseName',
          databaseNamePattern ? 'Database name (optional)' : 'Database name',
          {
            hint: databaseNamePattern
              ? `Left empty, it is made from the fields above: ${databaseNamePattern}.`
              : 'The new ODS database, e.g. EdFi_Ods_2026. It is copied from the template.',
          },
        ),
      };
      // A copy of another instance (docs/copy.md): its database, data included, instead of the template.
      const copyOf = selectField(
        'create',
        'sourceInstanceId',
        'Copy of',
        [
          ['', 'Nothing: a new instance from the template'],
          ...sources.map((i): [string, string] => [i.id, `${i.instanceName} (${i.databaseName})`]),
        ],
        { hint: 'Choose an instance to start from a copy of its database, its data included.' },
      );
      // PostgreSQL copies only a database nobody is connected to: the request must agree to end its sessions.
      const disconnect = field('create', 'disconnectSource', "End the source's sessions while copying", {
        type: 'checkbox',
        hint: "Required for a copy on PostgreSQL: while it is copied, the source database is closed to new connections and its sessions (the ODS/API's too) are ended; it is opened again as soon as the copy is made, even if it fails.",
      });
      // The deployment's templates (GET /admin/templates), the default first; none offered: the API's default.
      const template = offered.length
        ? selectField(
            'create',
            'template',
            'Template',
            offered.map((t): [string, string] => [t.name, templateLabel(t)]),
            { hint: 'The database the new one is copied from.' },
          )
        : undefined;
      if (template) f.template = template;
      // Adopting registers a database that exists already (nothing copied); its name is then required.
      const adopt = h('input', { id: 'create-adopt', name: 'adopt', type: 'checkbox' });
      const adoptRow = h(
        'div',
        { class: 'field field-checkbox' },
        adopt,
        h('label', { for: 'create-adopt' }, 'Adopt existing database'),
        h(
          'p',
          { class: 'hint', id: 'create-adopt-hint' },
          'Register the existing database named above instead of copying the template. It must exist and not be managed by another instance.',
        ),
      );
      adopt.setAttribute('aria-describedby', 'create-adopt-hint');
      const asksConsent = engine === 'postgres';
      // A create starts from one of: a template, a copy of an instance, an existing database (adopt).
      const showConsent = () => {
        const copying = !!copyOf.input.value && !adopt.checked;
        disconnect.row.hidden = !asksConsent || !copying;
        copyOf.row.hidden = adopt.checked;
        if (template) template.row.hidden = copying || adopt.checked;
      };
      copyOf.input.addEventListener('change', showConsent);
      adopt.addEventListener('change', showConsent);
      showConsent();
      f.sourceInstanceId = copyOf;
      f.disconnectSource = disconnect;
      // The API names context problems under odsInstanceContexts: show them by the first context field.
      if (contexts[0]) f.odsInstanceContexts = contexts[0];
      formDialog({
        title: 'New instance',
        content: [
          f.instanceName!.row,
          ...contexts.map((c) => c.row),
          f.databaseName!.row,
          adoptRow,
          ...(template ? [template.row] : []),
          ...(sources.length ? [copyOf.row, disconnect.row] : []),
        ],
        fields: f,
        submitLabel: 'Create instance',
        submit: async () => {
          const databaseName = f.databaseName!.input.value;
          const adopting = adopt.checked;
          const sourceInstanceId = adopting ? '' : copyOf.input.value;
          return (
            await api<Instance>('POST', '/admin/instances', {
              instanceName: f.instanceName!.input.value,
              ...(sourceInstanceId
                ? { sourceInstanceId, ...(asksConsent ? { disconnectSource: disconnect.input.checked } : {}) }
                : template && !adopting
                  ? { template: template.input.value }
                  : {}),
              ...(databaseName || !databaseNamePattern || adopting ? { databaseName } : {}),
              ...(adopting ? { adopt: true } : {}),
              ...(contexts.length
                ? {
                    odsInstanceContexts: contextKeys.map((contextKey, i) => ({
                      contextKey,
                      contextValue: contexts[i]!.input.value,
                    })),
                  }
                : {}),
            })
          ).body;
        },
        done,
        announce: (i) => `Creating ${i.instanceName}: ${i.status}.`,
      });
    },
  );
}

/** The instances a copy may start from: Created ones (the API checks again, and answers 409 for a busy one). */
async function copyableInstances(): Promise<Instance[]> {
  try {
    return (await api<Instance[]>('GET', '/admin/instances?status=Created&limit=500&order=desc')).body;
  } catch {
    return []; // the form still creates from the template
  }
}

export function renameInstance(instance: Instance, done: Done): void {
  const f = {
    instanceName: field('rename', 'instanceName', 'Instance name', { value: instance.instanceName }),
    databaseName: field('rename', 'databaseName', 'Database name', {
      value: instance.databaseName,
      hint: 'Changing it renames the ODS database; the ODS/API cannot reach it while that runs.',
    }),
  };
  formDialog({
    title: `Rename ${instance.instanceName}`,
    content: [f.instanceName.row, f.databaseName.row],
    fields: f,
    submitLabel: 'Rename',
    submit: async (alert) => {
      const changes: Record<string, string> = {};
      if (f.instanceName.input.value !== instance.instanceName) changes.instanceName = f.instanceName.input.value;
      if (f.databaseName.input.value !== instance.databaseName) changes.databaseName = f.databaseName.input.value;
      if (!Object.keys(changes).length) {
        alert.textContent = 'Nothing changed: edit the instance name, the database name or both.';
        alert.hidden = false;
        alert.focus();
        return undefined;
      }
      return (await api<Instance>('PUT', `/admin/instances/${instance.id}`, changes)).body;
    },
    done,
    announce: (i) => `${i.instanceName}: ${i.status}.`,
  });
}

/** Deleting drops the ODS database: the user types its name to confirm, as a guard against the wrong row. */
export function deleteInstance(instance: Instance, done: Done): void {
  const confirm = field('delete', 'confirm', `Type ${instance.databaseName} to confirm`);
  const matches = () => confirm.input.value === instance.databaseName;
  const button = formDialog({
    title: `Delete ${instance.instanceName}?`,
    content: [
      h(
        'p',
        {},
        'This drops the database ',
        h('strong', {}, instance.databaseName),
        ' and every record in it. It cannot be undone.',
      ),
      confirm.row,
    ],
    fields: {},
    submitLabel: 'Delete instance and database',
    danger: true,
    submit: async () =>
      // An adopted instance's plain DELETE would release it: this dialog drops, so it says so to the API.
      matches()
        ? (
            await api<Instance>(
              'DELETE',
              `/admin/instances/${instance.id}${instance.adopted ? '?dropDatabase=true' : ''}`,
            )
          ).body
        : undefined,
    done,
    announce: (i) => `Deleting ${i.instanceName}: ${i.status}.`,
  });
  button.disabled = true;
  confirm.input.addEventListener('input', () => (button.disabled = !matches()));
}

/** Releasing keeps the database: the dialog says so; no name to type, since nothing is destroyed. */
export function releaseInstance(instance: Instance, done: Done): void {
  formDialog({
    title: `Release ${instance.instanceName}?`,
    content: [
      h(
        'p',
        { 'data-key': 'release-explanation' },
        'The database ',
        h('strong', {}, instance.databaseName),
        ' is kept, with all its data: it is removed from EdFi_Admin and no longer managed by this product. ',
        'The instance is kept as history (Released), and its names become free.',
      ),
    ],
    fields: {},
    submitLabel: 'Release (keep the database)',
    submit: async () => (await api<Instance>('POST', `/admin/instances/${instance.id}/release`)).body,
    done,
    announce: (i) => `Releasing ${i.instanceName}: ${i.status}.`,
  });
}

/** Protecting changes no database: it is done at once, no confirmation needed (unprotecting asks). */
export async function protectInstance(instance: Instance, report: (message: string) => void): Promise<void> {
  try {
    const { body } = await api<Instance>('POST', `/admin/instances/${instance.id}/protect`);
    announce(`${body.instanceName} is protected: it cannot be deleted or renamed until it is unprotected.`);
  } catch (err) {
    report(`Could not protect ${instance.instanceName}: ${describeError(err)}`);
  }
}

/** Unprotecting makes the instance deletable again: the user confirms it in a dialog. */
export function unprotectInstance(instance: Instance, done: Done): void {
  formDialog({
    title: `Unprotect ${instance.instanceName}?`,
    content: [
      h(
        'p',
        {},
        'Once unprotected, ',
        h('strong', {}, instance.instanceName),
        ' (database ',
        h('strong', {}, instance.databaseName),
        ') can be renamed or deleted again by any client with write access.',
      ),
    ],
    fields: {},
    submitLabel: 'Unprotect',
    submit: async () => (await api<Instance>('POST', `/admin/instances/${instance.id}/unprotect`)).body,
    done,
    announce: (i) => `${i.instanceName} is no longer protected.`,
  });
}

export async function retryInstance(instance: Instance, report: (message: string) => void): Promise<void> {
  try {
    const { body } = await api<Instance>('POST', `/admin/instances/${instance.id}/retry`);
    announce(`Retrying ${body.instanceName}: ${body.status}.`);
  } catch (err) {
    report(`Could not retry ${instance.instanceName}: ${describeError(err)}`);
  }
}
