import { api, describeError, type Job } from './api.js';
import { pager } from './components.js';
import { h } from './dom.js';
import type { ChangeEvent } from './events.js';
import { jobsTable } from './jobs-table.js';
import { debounce, keepingFocus, type View } from './view.js';

const FILTERS: [string, string][] = [
  ['', 'All jobs'],
  ['failed', 'Failed'],
  ['running', 'Running'],
  ['queued', 'Queued'],
  ['succeeded', 'Succeeded'],
];
const LIMIT = 25;

/** `#/jobs?status=…`: recent jobs across every instance, so an operator sees trouble at once. */
export class JobsView implements View {
  private readonly status: string;
  private readonly offset: number;
  private readonly tableSlot = h('div');
  private readonly pagerSlot = h('div');
  private readonly message = h('p', { class: 'form-alert', role: 'alert', hidden: true });
  private readonly refreshSoon = debounce(() => keepingFocus(() => this.load()));

  constructor(params: URLSearchParams) {
    this.status = FILTERS.some(([value]) => value === params.get('status')) ? params.get('status')! : '';
    this.offset = Math.max(0, Number.parseInt(params.get('offset') ?? '0', 10) || 0);
  }

  async render(main: HTMLElement): Promise<void> {
    const select = h(
      'select',
      { id: 'job-status-filter' },
      ...FILTERS.map(([value, label]) => h('option', { value, selected: value === this.status }, label)),
    );
    select.addEventListener('change', () => this.go(select.value, 0));
    main.replaceChildren(
      h('h1', { tabindex: '-1' }, 'Jobs'),
      h(
        'div',
        { class: 'filters' },
        h('div', { class: 'field' }, h('label', { for: 'job-status-filter' }, 'Show'), select),
      ),
      this.message,
      this.tableSlot,
      this.pagerSlot,
    );
    await this.load();
  }

  onEvent(event: ChangeEvent): void {
    if (event.type === 'job') this.refreshSoon();
  }

  private async load(): Promise<void> {
    const query = new URLSearchParams({ limit: String(LIMIT), offset: String(this.offset) });
    if (this.status) query.set('status', this.status);
    try {
      const { body, headers } = await api<Job[]>('GET', `/admin/jobs?${query}`);
      this.message.hidden = true;
      const label = FILTERS.find(([value]) => value === this.status)?.[1] ?? 'All jobs';
      this.tableSlot.replaceChildren(jobsTable(`${label}, newest first`, body, { linkInstances: true }));
      const total = Number(headers.get('Total-Count') ?? body.length);
      this.pagerSlot.replaceChildren(pager(this.offset, body.length, total, (o) => this.go(this.status, o), LIMIT));
    } catch (err) {
      this.message.textContent = `Could not load the jobs: ${describeError(err)}`;
      this.message.hidden = false;
    }
  }

  private go(status: string, offset: number): void {
    const params = new URLSearchParams();
    if (status) params.set('status', status);
    if (offset) params.set('offset', String(offset));
    location.hash = `#/jobs${params.size ? `?${params}` : ''}`;
  }
}
