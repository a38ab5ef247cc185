import {
  createInstance,
  deleteInstance,
  protectInstance,
  releaseInstance,
  renameInstance,
  retryInstance,
  unprotectInstance,
} from './actions.js';
import { api, describeError, type Instance } from './api.js';
import { createSeveralInstances } from './bulk-create.js';
import { schoolYearRollover } from './rollover.js';
import {
  adoptedBadge,
  DELETES_OFF_NOTICE,
  driftBadge,
  formatBytes,
  pager,
  protectedBadge,
  statusBadge,
} from './components.js';
import { announce, formatTime, h } from './dom.js';
import type { ChangeEvent } from './events.js';
import { settings } from './settings.js';
import { debounce, keepingFocus, type View } from './view.js';

const STATUSES = [
  'PendingCreate',
  'CreateInProgress',
  'Created',
  'CreateFailed',
  'PendingRename',
  'RenameInProgress',
  'RenameFailed',
  'PendingDelete',
  'DeleteInProgress',
  'DeleteFailed',
  'Deleted',
  'PendingRelease',
  'ReleaseInProgress',
  'ReleaseFailed',
  'Released',
];
const DEFAULT_LIMIT = 20;
/** How long Refresh inventory follows the run it asked for before leaving it to the next reload. */
const INVENTORY_FOLLOW_MS = 5 * 60_000;

interface InventoryStatus {
  lastRun: { id: string; finishedAt: string | null; error: string | null } | null;
}

/**
 * `#/instances?status=…&q=…&offset=…&after=…`: the list, newest first, with its filters in the URL.
 * Next page goes by the API's cursor (`after`: as fast at the ten-thousandth page as at the first)
 * and keeps `offset` for "Showing x–y of N"; Previous page and a typed offset go by offset.
 */
export class InstancesView implements View {
  private readonly status: string;
  private readonly search: string;
  private readonly offset: number;
  /** The cursor this page starts after (the previous page's Next-Cursor), if it was reached by Next page. */
  private readonly after: string;
  /** Rows per page: 20, or `limit` in the URL (1 to 100). */
  private readonly limit: number;
  private rows = new Map<string, Instance>();
  private loaded = false;
  private tableBody = h('tbody');
  private pagerSlot = h('div');
  private message = h('p', { class: 'form-alert', role: 'alert', hidden: true });
  private deletesOff = h('p', { class: 'banner', 'data-key': 'deletes-off', hidden: true }, DELETES_OFF_NOTICE);
  private readonly refreshSoon = debounce(() => keepingFocus(() => this.load()));

  constructor(
    params: URLSearchParams,
    private readonly writable: boolean,
  ) {
    this.status = STATUSES.includes(params.get('status') ?? '') ? params.get('status')! : '';
    this.search = params.get('q') ?? '';
    this.offset = Math.max(0, Number.parseInt(params.get('offset') ?? '0', 10) || 0);
    this.after = this.offset > 0 ? (params.get('after') ?? '') : '';
    this.limit = Math.min(100, Math.max(1, Number.parseInt(params.get('limit') ?? '', 10) || DEFAULT_LIMIT));
  }

  async render(main: HTMLElement): Promise<void> {
    const search = h('input', { id: 'search', type: 'search', value: this.search, autocomplete: 'off' });
    const status = h(
      'select',
      { id: 'status-filter' },
      h('option', { value: '' }, 'All but deleted'),
      ...STATUSES.map((s) => h('option', { value: s, selected: s === this.status }, s)),
    );
    const filters = h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': 'Filter instances' },
      h('div', { class: 'field' }, h('label', { for: 'search' }, 'Search by name'), search),
      h('div', { class: 'field' }, h('label', { for: 'status-filter' }, 'Status'), status),
      h('button', { type: 'submit', class: 'secondary' }, 'Apply'),
    );
    filters.addEventListener('submit', (event) => {
      event.preventDefault();
      this.go({ q: search.value.trim(), status: status.value, offset: 0 });
    });
    status.addEventListener('change', () => this.go({ q: search.value.trim(), status: status.value, offset: 0 }));

    main.replaceChildren(
      h(
        'div',
        { class: 'page-head' },
        h('h1', { tabindex: '-1' }, 'Instances'),
        this.writable &&
          h(
            'div',
            { class: 'actions' },
            h(
              'button',
              { type: 'button', id: 'new-instance', onclick: () => createInstance(() => this.refreshSoon()) },
              'New instance',
            ),
            h(
              'button',
              {
                type: 'button',
                id: 'create-several',
                class: 'secondary',
                onclick: () => createSeveralInstances(() => this.refreshSoon()),
              },
              'Create several',
            ),
            h(
              'button',
              {
                type: 'button',
                id: 'school-year-rollover',
                class: 'secondary',
                onclick: () => schoolYearRollover(() => this.refreshSoon()),
              },
              'School-year rollover',
            ),
            h(
              'button',
              {
                type: 'button',
                id: 'refresh-inventory',
                class: 'secondary',
                onclick: () => void this.requestInventory(),
              },
              'Refresh inventory',
            ),
          ),
      ),
      filters,
      this.deletesOff,
      this.message,
      h(
        'table',
        { class: 'data' },
        h('caption', { class: 'visually-hidden' }, 'Instances, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Database'),
            h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col' }, 'Last change'),
            this.writable && h('th', { scope: 'col' }, 'Actions'),
          ),
        ),
        this.tableBody,
      ),
      this.pagerSlot,
    );
    await Promise.all([this.load(), settings().then((s) => (this.deletesOff.hidden = s.instanceDeletesEnabled))]);
  }

  onEvent(_event: ChangeEvent): void {
    // A change may move rows in or out of this page (a new instance, a status filter): reload it.
    this.refreshSoon();
  }

  private async load(): Promise<void> {
    const query = new URLSearchParams({ order: 'desc', limit: String(this.limit) });
    if (this.after) query.set('after', this.after);
    else query.set('offset', String(this.offset));
    if (this.status) query.set('status', this.status);
    if (this.search) query.set('instanceName', this.search);
    try {
      const { body, headers } = await api<Instance[]>('GET', `/admin/instances?${query}`);
      this.message.hidden = true;
      this.announceChanges(body);
      this.rows = new Map(body.map((i) => [i.id, i]));
      this.tableBody.replaceChildren(
        ...(body.length
          ? body.map((i) => this.row(i))
          : [h('tr', {}, h('td', { colspan: this.writable ? 5 : 4 }, 'No instances match.'))]),
      );
      const total = Number(headers.get('Total-Count') ?? body.length);
      this.pagerSlot.replaceChildren(
        pager(
          this.offset,
          body.length,
          total,
          (offset, after) => this.go({ offset, after }),
          this.limit,
          headers.get('Next-Cursor') ?? undefined,
        ),
      );
    } catch (err) {
      this.message.textContent = `Could not load the instances: ${describeError(err)}`;
      this.message.hidden = false;
    }
  }

  /**
   * Asks a worker for an inventory run now, then follows it (GET /admin/inventory every second) and
   * reloads the list once a run that began after the request has finished: a run's facts arrive as
   * no change event, and a run can take from a second to minutes. Stops when the user leaves the page.
   */
  private async requestInventory(): Promise<void> {
    try {
      const before = (await api<InventoryStatus>('GET', '/admin/inventory')).body.lastRun;
      await api('POST', '/admin/inventory');
      announce('Inventory requested: sizes and drift update when it is done.');
      const deadline = Date.now() + INVENTORY_FOLLOW_MS;
      while (Date.now() < deadline && this.tableBody.isConnected) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const run = (await api<InventoryStatus>('GET', '/admin/inventory')).body.lastRun;
        if (run?.finishedAt && (run.id !== before?.id || !before.finishedAt)) {
          if (!this.tableBody.isConnected) return;
          await keepingFocus(() => this.load());
          announce(run.error ? `Inventory failed: ${run.error}` : 'Inventory done: sizes and drift are up to date.');
          return;
        }
      }
    } catch (err) {
      this.message.textContent = `Could not request an inventory: ${describeError(err)}`;
      this.message.hidden = false;
    }
  }

  /** Tells screen-reader users when an instance on the page reaches an end state. */
  private announceChanges(fresh: Instance[]): void {
    if (!this.loaded) {
      this.loaded = true;
      return;
    }
    const ended = fresh.filter(
      (i) => /Created|Failed|Deleted|Released/.test(i.status) && this.rows.get(i.id)?.status !== i.status,
    );
    if (ended.length) announce(ended.map((i) => `${i.instanceName} is now ${i.status}.`).join(' '));
  }

  private row(i: Instance): HTMLTableRowElement {
    const refresh = () => this.refreshSoon();
    const report = (text: string) => {
      this.message.textContent = text;
      this.message.hidden = false;
    };
    return h(
      'tr',
      { 'data-instance-id': i.id },
      h('th', { scope: 'row' }, h('a', { href: `#/instances/${i.id}`, 'data-key': `open-${i.id}` }, i.instanceName)),
      h(
        'td',
        {},
        h('span', { class: 'mono' }, i.databaseName),
        i.inventory?.exists &&
          h('span', { class: 'db-size', 'data-key': `size-${i.id}` }, formatBytes(i.inventory.sizeBytes)),
      ),
      h(
        'td',
        {},
        statusBadge(i.status),
        i.protected && protectedBadge(),
        i.drift && driftBadge(i.drift),
        i.adopted && adoptedBadge(),
        i.lastError && h('p', { class: 'error-text' }, i.lastError),
      ),
      h('td', {}, h('time', { datetime: i.updatedAt }, formatTime(i.updatedAt))),
      this.writable &&
        h(
          'td',
          {},
          h(
            'div',
            { class: 'actions' },
            i._links.rename &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': `rename-${i.id}`,
                  'aria-label': `Rename ${i.instanceName}`,
                  onclick: () => renameInstance(i, refresh),
                },
                'Rename',
              ),
            i._links.retry &&
              h(
                'button',
                {
                  type: 'button',
                  'data-key': `retry-${i.id}`,
                  'aria-label': `Retry ${i.instanceName}`,
                  onclick: () => void retryInstance(i, report).then(refresh),
                },
                'Retry',
              ),
            i._links.delete &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  'data-key': `delete-${i.id}`,
                  'aria-label': `Delete ${i.instanceName}`,
                  onclick: () => deleteInstance(i, refresh),
                },
                'Delete',
              ),
            i._links.release &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': `release-${i.id}`,
                  'aria-label': `Release ${i.instanceName}`,
                  onclick: () => releaseInstance(i, refresh),
                },
                'Release',
              ),
            i._links.protect &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': `protect-${i.id}`,
                  'aria-label': `Protect ${i.instanceName}`,
                  onclick: () => void protectInstance(i, report).then(refresh),
                },
                'Protect',
              ),
            i._links.unprotect &&
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-key': `unprotect-${i.id}`,
                  'aria-label': `Unprotect ${i.instanceName}`,
                  onclick: () => unprotectInstance(i, refresh),
                },
                'Unprotect',
              ),
          ),
          i.protected && h('p', { class: 'protection-note' }, 'Unprotect to rename or delete.'),
        ),
    );
  }

  private go(change: { q?: string; status?: string; offset?: number; after?: string }): void {
    const params = new URLSearchParams();
    const q = change.q ?? this.search;
    const status = change.status ?? this.status;
    if (q) params.set('q', q);
    if (status) params.set('status', status);
    if (change.offset) params.set('offset', String(change.offset));
    if (change.offset && change.after) params.set('after', change.after);
    if (this.limit !== DEFAULT_LIMIT) params.set('limit', String(this.limit));
    const hash = `#/instances${params.size ? `?${params}` : ''}`;
    // The same filters again ("Apply" to see what changed): no hashchange fires, so reload here.
    if (location.hash === hash) this.refreshSoon();
    else location.hash = hash;
  }
}
