import { api, describeError, type Instance } from './api.js';
import { field, formAlert, openDialog, showProblem } from './components.js';
import { announce, h } from './dom.js';

/** The create, rename, delete and retry dialogs; `done` is told when the API accepted the request. */
export function createInstance(done: (instance: Instance) => void): void {
  const f = {
    instanceName: field('create', 'instanceName', 'Instance name', {
      hint: 'Shown to people, e.g. "Grand Bend ISD 2026".',
    }),
    databaseName: field('create', 'databaseName', 'Database name', {
      hint: 'The new ODS database, e.g. EdFi_Ods_2026. It is copied from the template.',
    }),
  };
  const alert = formAlert();
  const submit = h('button', { type: 'submit' }, 'Create instance');
  const form = h(
    'form',
    { novalidate: true },
    f.instanceName.row,
    f.databaseName.row,
    alert,
    h(
      'div',
      { class: 'buttons' },
      submit,
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    ),
  );
  const dialog = openDialog('New instance', [form]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void send(submit, async () => {
      try {
        const { body } = await api<Instance>('POST', '/admin/instances', {
          instanceName: f.instanceName.input.value,
          databaseName: f.databaseName.input.value,
        });
        dialog.close();
        announce(`Creating ${body.instanceName}: ${body.status}.`);
        done(body);
      } catch (err) {
        showProblem(err, f, alert);
      }
    });
  });
}

export function renameInstance(instance: Instance, done: (instance: Instance) => void): void {
  const f = {
    instanceName: field('rename', 'instanceName', 'Instance name', { value: instance.instanceName }),
    databaseName: field('rename', 'databaseName', 'Database name', {
      value: instance.databaseName,
      hint: 'Changing it renames the ODS database; the ODS/API cannot reach it while that runs.',
    }),
  };
  const alert = formAlert();
  const submit = h('button', { type: 'submit' }, 'Rename');
  const form = h(
    'form',
    { novalidate: true },
    f.instanceName.row,
    f.databaseName.row,
    alert,
    h(
      'div',
      { class: 'buttons' },
      submit,
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    ),
  );
  const dialog = openDialog(`Rename ${instance.instanceName}`, [form]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const changes: Record<string, string> = {};
    if (f.instanceName.input.value !== instance.instanceName) changes.instanceName = f.instanceName.input.value;
    if (f.databaseName.input.value !== instance.databaseName) changes.databaseName = f.databaseName.input.value;
    if (!Object.keys(changes).length) {
      alert.textContent = 'Nothing changed: edit the instance name, the database name or both.';
      alert.hidden = false;
      alert.focus();
      return;
    }
    void send(submit, async () => {
      try {
        const { body } = await api<Instance>('PUT', `/admin/instances/${instance.id}`, changes);
        dialog.close();
        announce(`${body.instanceName}: ${body.status}.`);
        done(body);
      } catch (err) {
        showProblem(err, f, alert);
      }
    });
  });
}

/** Deleting drops the ODS database: the user types its name to confirm, as a guard against the wrong row. */
export function deleteInstance(instance: Instance, done: (instance: Instance) => void): void {
  const confirm = field('delete', 'confirm', `Type ${instance.databaseName} to confirm`);
  const alert = formAlert();
  const submit = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Delete instance and database');
  confirm.input.addEventListener('input', () => {
    submit.disabled = confirm.input.value !== instance.databaseName;
  });
  const form = h(
    'form',
    { novalidate: true },
    h(
      'p',
      {},
      'This drops the database ',
      h('strong', {}, instance.databaseName),
      ' and every record in it. It cannot be undone.',
    ),
    confirm.row,
    alert,
    h(
      'div',
      { class: 'buttons' },
      submit,
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    ),
  );
  const dialog = openDialog(`Delete ${instance.instanceName}?`, [form]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (confirm.input.value !== instance.databaseName) return;
    void send(submit, async () => {
      try {
        const { body } = await api<Instance>('DELETE', `/admin/instances/${instance.id}`);
        dialog.close();
        announce(`Deleting ${body.instanceName}: ${body.status}.`);
        done(body);
      } catch (err) {
        showProblem(err, {}, alert);
      }
    });
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

/** Disables the button while the request runs, so a double click sends one request. */
async function send(button: HTMLButtonElement, work: () => Promise<void>): Promise<void> {
  button.disabled = true;
  try {
    await work();
  } finally {
    button.disabled = false;
  }
}
