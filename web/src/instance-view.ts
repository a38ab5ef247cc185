import {
  deleteInstance,
  protectInstance,
  releaseInstance,
  renameInstance,
  retryInstance,
  unprotectInstance,
} from './actions.js';
import { api, describeError, type Instance, type Job } from './api.js';
import {
  adoptedBadge,
  DELETES_OFF_NOTICE,
  driftBadge,
  formatAge,
  formatBytes,
  protectedBadge,
  statusBadge,
} from './components.js';
import { formatTime, h } from './dom.js';
import type { ChangeEvent } from './events.js';
import { jobsTable } from './jobs-table.js';
import { settings } from './settings.js';
import { debounce, keepingFocus, type View } from './view.js';

/** `#/instances/{id}`: one instance and every job it has had. */
export class InstanceView implements View {
  private main?: HTMLElement;
  private readonly refreshSoon = debounce(() => keepingFocus(() => this.load()));

  constructor(
    private readonly id: string,
    private readonly writable: boolean,
  ) {}

  async render(main: HTMLElement): Promise<void> {
    this.main = main;
    await this.load();
  }

  onEvent(event: ChangeEvent): void {
    if (event.instanceId === this.id) this.refreshSoon();
  }

  private async load(): Promise<void> {
    const main = this.main!;
    let instance: Instance;
    let jobs: Job[];
    let deletesEnabled: boolean;
    try {
      [instance, jobs, deletesEnabled] = await Promise.all([
        api<Instance>('GET', `/admin/instances/${encodeURIComponent(this.id)}`).then((r) => r.body),
        api<Job[]>('GET', `/admin/instances/${encodeURIComponent(this.id)}/jobs`).then((r) => r.body),
        settings().then((s) => s.instanceDeletesEnabled),
      ]);
    } catch (err) {
      main.replaceChildren(
        h('h1', { tabindex: '-1' }, 'Instance'),
        h('p', { class: 'form-alert', role: 'alert' }, describeError(err)),
        h('p', {}, h('a', { href: '#/instances' }, 'Back to instances')),
      );
      return;
    }
    // "Copy of": the source's name where it can still be read, else its id.
    const sourceName = instance.sourceInstanceId
      ? await api<Instance>('GET', `/admin/instances/${encodeURIComponent(instance.sourceInstanceId)}`).then(
          (r) => r.body.instanceName,
          () => undefined,
        )
      : undefined;
    const message = h('p', { class: 'form-alert', role: 'alert', hidden: true });
    const refresh = () => this.refreshSoon();
    const report = (text: string) => {
      message.textContent = text;
      message.hidden = false;
    };
    const row = (term: string, ...value: (Node | string | null)[]) => [h('dt', {}, term), h('dd', {}, ...value)];
    main.replaceChildren(
      h('p', {}, h('a', { href: '#/instances' }, '← All instances')),
      h(
        'div',
        { class: 'page-head' },
        h('h1', { tabindex: '-1' }, instance.instanceName),
        h(
          'div',
          {},
          statusBadge(instance.status),
          instance.protected && protectedBadge(),
          instance.adopted && adoptedBadge(),
        ),
      ),
      deletesEnabled ? '' : h('p', { class: 'banner', 'data-key': 'deletes-off' }, DELETES_OFF_NOTICE),
      message,
      h(
        'dl',
        { class: 'facts' },
        ...row('Database', h('span', { class: 'mono' }, instance.databaseName)),
        ...(instance.previousDatabaseName
          ? row('Previous database', h('span', { class: 'mono' }, instance.previousDatabaseName))
          : []),
        ...row('Engine', instance.engine),
        ...(instance.sourceInstanceId
          ? row(
              'Copy of',
              h(
                'a',
                { href: `#/instances/${instance.sourceInstanceId}`, 'data-key': 'copy-of' },
                sourceName ?? instance.sourceInstanceId,
              ),
            )
          : []),
        ...row(
          'Protection',
          instance.protected ? 'Protected: it cannot be renamed or deleted until it is unprotected.' : 'Not protected',
        ),
        ...(instance.tenant ? row('Tenant', instance.tenant) : []),
        ...(instance.odsInstanceContexts.length
          ? row(
              'Contexts',
              h(
                'span',
                { class: 'mono' },
                instance.odsInstanceContexts.map((c) => `${c.contextKey}=${c.contextValue}`).join(', '),
              ),
            )
          : []),
        ...(instance.instanceType ? row('Instance type', instance.instanceType) : []),
        ...(instance.template ? row('Template', instance.template) : []),
        ...(instance.odsInstanceId !== null ? row('OdsInstanceId', String(instance.odsInstanceId)) : []),
        ...(instance.drift ? row('Drift', driftBadge(instance.drift)) : []),
        ...(instance.inventory
          ? [
              ...row(
                'Inventory',
                h('time', { datetime: instance.inventory.observedAt }, formatAge(instance.inventory.ageSeconds)),
                instance.inventory.exists ? '' : ': the database was not on the server',
              ),
              ...(instance.inventory.exists
                ? [
                    ...row('Size', formatBytes(instance.inventory.sizeBytes)),
                    ...row('State', instance.inventory.state ?? 'unknown'),
                    ...row('Connections', String(instance.inventory.connections ?? 'unknown')),
                    ...row('Ed-Fi ODS version', instance.inventory.edfiOdsVersion ?? 'not found'),
                    ...row('Ed-Fi Standard version', instance.inventory.edfiStandardVersion ?? 'not found'),
                  ]
                : []),
            ]
          : row('Inventory', 'Not taken yet since this instance was created.')),
        ...row('Created', formatTime(instance.createdAt)),
        ...row('Last change', formatTime(instance.updatedAt)),
        ...(instance.lastError ? row('Error', h('span', { class: 'error-text' }, instance.lastError)) : []),
      ),
      this.writable
        ? h(
            'div',
            { class: 'buttons' },
            instance._links.rename &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': 'rename',
                  onclick: () => renameInstance(instance, refresh),
                },
                'Rename',
              ),
            instance._links.retry &&
              h(
                'button',
                {
                  type: 'button',
                  'data-key': 'retry',
                  onclick: () => void retryInstance(instance, report).then(refresh),
                },
                'Retry',
              ),
            instance._links.protect &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': 'protect',
                  onclick: () => void protectInstance(instance, report).then(refresh),
                },
                'Protect',
              ),
            instance._links.unprotect &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': 'unprotect',
                  onclick: () => unprotectInstance(instance, refresh),
                },
                'Unprotect',
              ),
            instance._links.delete &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  'data-key': 'delete',
                  onclick: () => deleteInstance(instance, refresh),
                },
                'Delete',
              ),
            instance._links.release &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': 'release',
                  onclick: () => releaseInstance(instance, refresh),
                },
                'Release',
              ),
          )
        : '',
      this.writable && instance.protected
        ? h(
            'p',
            { class: 'protection-note', 'data-key': 'protection-note' },
            'Rename, Delete and Release are not offered while the instance is protected: unprotect it first.',
          )
        : '',
      h('h2', {}, 'Jobs'),
      jobsTable(`Jobs of ${instance.instanceName}, newest first`, jobs),
    );
  }
}
