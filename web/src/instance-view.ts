import { deleteInstance, renameInstance, retryInstance } from './actions.js';
import { api, describeError, type Instance, type Job } from './api.js';
import { statusBadge } from './components.js';
import { formatTime, h } from './dom.js';
import type { ChangeEvent } from './events.js';
import { jobsTable } from './jobs-table.js';
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
    try {
      [instance, jobs] = await Promise.all([
        api<Instance>('GET', `/admin/instances/${encodeURIComponent(this.id)}`).then((r) => r.body),
        api<Job[]>('GET', `/admin/instances/${encodeURIComponent(this.id)}/jobs`).then((r) => r.body),
      ]);
    } catch (err) {
      main.replaceChildren(
        h('h1', { tabindex: '-1' }, 'Instance'),
        h('p', { class: 'form-alert', role: 'alert' }, describeError(err)),
        h('p', {}, h('a', { href: '#/instances' }, 'Back to instances')),
      );
      return;
    }
    const message = h('p', { class: 'form-alert', role: 'alert', hidden: true });
    const refresh = () => this.refreshSoon();
    const row = (term: string, ...value: (Node | string | null)[]) => [h('dt', {}, term), h('dd', {}, ...value)];
    main.replaceChildren(
      h('p', {}, h('a', { href: '#/instances' }, '← All instances')),
      h(
        'div',
        { class: 'page-head' },
        h('h1', { tabindex: '-1' }, instance.instanceName),
        statusBadge(instance.status),
      ),
      message,
      h(
        'dl',
        { class: 'facts' },
        ...row('Database', h('span', { class: 'mono' }, instance.databaseName)),
        ...(instance.previousDatabaseName
          ? row('Previous database', h('span', { class: 'mono' }, instance.previousDatabaseName))
          : []),
        ...row('Engine', instance.engine),
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
        ...(instance.odsInstanceId !== null ? row('OdsInstanceId', String(instance.odsInstanceId)) : []),
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
                  onclick: () =>
                    void retryInstance(instance, (text) => {
                      message.textContent = text;
                      message.hidden = false;
                    }).then(refresh),
                },
                'Retry',
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
          )
        : '',
      h('h2', {}, 'Jobs'),
      jobsTable(`Jobs of ${instance.instanceName}, newest first`, jobs),
    );
  }
}
