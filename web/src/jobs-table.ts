import type { Job } from './api.js';
import { statusBadge } from './components.js';
import { formatDuration, formatTime, h } from './dom.js';

/** Jobs as a table: type, status, attempts, start, duration, and what went wrong. */
export function jobsTable(caption: string, jobs: Job[], options: { linkInstances?: boolean } = {}): HTMLElement {
  return h(
    'table',
    { class: 'data' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Requested'),
        h('th', { scope: 'col' }, 'Operation'),
        h('th', { scope: 'col' }, 'Database'),
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Attempts'),
        h('th', { scope: 'col' }, 'Started'),
        h('th', { scope: 'col' }, 'Duration'),
        h('th', { scope: 'col' }, 'Error or warnings'),
      ),
    ),
    h(
      'tbody',
      {},
      jobs.length
        ? jobs.map((job) => {
            const database =
              job.type === 'rename' && job.sourceDatabaseName !== job.targetDatabaseName
                ? `${job.sourceDatabaseName} → ${job.targetDatabaseName}`
                : (job.targetDatabaseName ?? job.sourceDatabaseName ?? '—');
            return h(
              'tr',
              { 'data-job-id': job.id },
              h('td', {}, h('time', { datetime: job.createdAt }, formatTime(job.createdAt))),
              h('td', {}, job.type),
              h(
                'td',
                { class: 'mono' },
                options.linkInstances ? h('a', { href: `#/instances/${job.instanceId}` }, database) : database,
              ),
              h('td', {}, statusBadge(job.status)),
              h('td', {}, String(job.attempts)),
              h('td', {}, formatTime(job.startedAt)),
              h('td', {}, job.status === 'queued' ? '—' : formatDuration(job.startedAt, job.finishedAt)),
              h(
                'td',
                {},
                job.error && h('p', { class: 'error-text' }, job.error),
                ...job.warnings.map((w) => h('p', { class: 'warning-text' }, w)),
              ),
            );
          })
        : h('tr', {}, h('td', { colspan: 8 }, 'No jobs.')),
    ),
  );
}
