import { api, onSignInNeeded, type QueueStatus } from './api.js';
import { field, formAlert, openDialog } from './components.js';
import { byId, h } from './dom.js';
import { LiveEvents, type LiveState } from './events.js';
import { InstanceView } from './instance-view.js';
import { InstancesView } from './instances-view.js';
import { JobsView } from './jobs-view.js';
import { canWrite, clearSession, isExpired, loadSession, requestToken, saveSession, type Session } from './session.js';
import { forgetSettings, settings } from './settings.js';
import { chooseTenant, currentTenant } from './tenant.js';
import { debounce, type View } from './view.js';

let view: View | undefined;
let live: LiveEvents | undefined;
let queueTimer: ReturnType<typeof setInterval> | undefined;
let signingIn: Promise<Session> | undefined;
/** After a burst of events, one look at the queue (a change may mean a worker came or went). */
const refreshQueueSoon = debounce(() => refreshQueueStatus(), 1000);

/** The sign-in form, used both as the first page and inside the "session ended" dialog. */
function signInForm(onSignedIn: (session: Session) => void): HTMLFormElement {
  const clientId = field('signin', 'clientId', 'Client id', { autocomplete: 'username' });
  const secret = field('signin', 'clientSecret', 'Client secret', {
    type: 'password',
    autocomplete: 'current-password',
  });
  const alert = formAlert();
  const submit = h('button', { type: 'submit' }, 'Sign in');
  clientId.input.value = loadSession()?.clientId ?? sessionStorage.getItem('odsim.lastClientId') ?? '';
  const form = h('form', { novalidate: true, class: 'sign-in' }, clientId.row, secret.row, alert, submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    requestToken(clientId.input.value.trim(), secret.input.value)
      .then((session) => {
        saveSession(session);
        sessionStorage.setItem('odsim.lastClientId', session.clientId);
        onSignedIn(session);
      })
      .catch((err: unknown) => {
        alert.textContent = err instanceof Error ? err.message : String(err);
        alert.hidden = false;
        secret.input.value = '';
        secret.input.focus();
      })
      .finally(() => (submit.disabled = false));
  });
  return form;
}

function showSignInPage(): void {
  stopSignedIn();
  byId('nav').hidden = true;
  byId('who').hidden = true;
  byId('banners').replaceChildren();
  const main = byId('main');
  main.replaceChildren(
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', {}, 'Sign in with an API client id and secret (the same credentials as POST /connect/token).'),
    signInForm(() => void startSignedIn()),
  );
  main.querySelector('input')?.focus();
}

/**
 * Asked by the API layer when the token has expired or been refused: a dialog over the current
 * page, so a half-filled form or a filtered list is still there after signing in again.
 */
function signInAgain(reason: string): Promise<Session> {
  signingIn ??= new Promise<Session>((resolve) => {
    const dialog = openDialog(
      'Sign in again',
      [
        h('p', {}, reason),
        signInForm((session) => {
          dialog.close();
          showWho(session);
          signingIn = undefined;
          resolve(session);
        }),
        h('button', { type: 'button', class: 'link-button', onclick: () => signOut() }, 'Sign out instead'),
      ],
      { dismissible: false },
    );
    dialog.element.querySelector<HTMLInputElement>('#signin-clientSecret')?.focus();
  });
  return signingIn;
}

function showWho(session: Session): void {
  byId('who-name').textContent = `Signed in as ${session.clientId}`;
  byId('who-readonly').hidden = canWrite(session);
}

async function startSignedIn(): Promise<void> {
  const session = loadSession();
  if (!session || isExpired(session)) return showSignInPage();
  byId('nav').hidden = false;
  byId('who').hidden = false;
  showWho(session);
  // Before the first page: with tenants, every instance and job call names one.
  await showTenants();
  live?.stop();
  live = new LiveEvents(
    (event) => {
      view?.onEvent?.(event);
      refreshQueueSoon();
    },
    (state: LiveState) => {
      byId('live').textContent = state === 'live' ? 'Live updates: on' : `Live updates: ${state}`;
      byId('live').dataset.state = state;
    },
  );
  live.start();
  clearInterval(queueTimer);
  queueTimer = setInterval(() => void refreshQueueStatus(), 15_000);
  void refreshQueueStatus();
  if (!location.hash || location.hash === '#/') location.hash = '#/instances';
  else await route();
}

/** With tenants, a selector in the header; its choice is the `tenant` header of instance and job calls. */
async function showTenants(): Promise<void> {
  const { tenants } = await settings();
  const select = byId<HTMLSelectElement>('tenant');
  const chosen = currentTenant();
  chooseTenant(tenants.length ? (chosen && tenants.includes(chosen) ? chosen : tenants[0]!) : null);
  select.replaceChildren(...tenants.map((t) => h('option', { value: t }, t)));
  select.value = currentTenant() ?? '';
  byId('tenant-choice').hidden = tenants.length === 0;
}

function stopSignedIn(): void {
  live?.stop();
  live = undefined;
  clearInterval(queueTimer);
  view = undefined;
}

function signOut(): void {
  const session = loadSession();
  // The dashboard's cookie holds the token too: ask the API to clear it.
  if (session) {
    void fetch('/admin/queues/session', {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${session.accessToken}` },
    }).catch(() => undefined);
  }
  clearSession();
  forgetSettings();
  chooseTenant(null);
  signingIn = undefined;
  document.querySelectorAll('dialog').forEach((d) => d.close());
  showSignInPage();
}

/** The queue's warnings (paused, no worker) as banners: otherwise work would wait with no sign why. */
async function refreshQueueStatus(): Promise<void> {
  const banners = byId('banners');
  try {
    const { body } = await api<QueueStatus>('GET', '/admin/queue');
    banners.replaceChildren(...body.warnings.map((text) => h('p', { class: 'banner' }, text)));
  } catch {
    // The list pages say when the API cannot be reached; the banner keeps its last word.
  }
}

async function route(): Promise<void> {
  const session = loadSession();
  if (!session) return showSignInPage();
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const writable = canWrite(session);
  const instance = /^\/instances\/([^/]+)$/.exec(path);
  view = instance
    ? new InstanceView(decodeURIComponent(instance[1]!), writable)
    : path === '/jobs'
      ? new JobsView(params)
      : new InstancesView(params, writable);
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    const current = link.dataset.nav === (path.startsWith('/jobs') ? 'jobs' : 'instances');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const main = byId('main');
  await view.render(main);
  document.title = `${main.querySelector('h1')?.textContent ?? 'Instances'} · ODS Instance Manager`;
  main.querySelector<HTMLElement>('h1')?.focus();
}

/** The dashboard is a plain page: it is reached with an HttpOnly cookie the API sets from our token. */
async function openDashboard(event: Event): Promise<void> {
  event.preventDefault();
  try {
    await api('POST', '/admin/queues/session');
  } catch {
    // Without the cookie the dashboard asks to sign in; nothing is lost.
  }
  location.assign('/admin/queues');
}

onSignInNeeded(signInAgain);
window.addEventListener('hashchange', () => void route());
byId('sign-out').addEventListener('click', signOut);
byId('tenant').addEventListener('change', (event) => {
  chooseTenant((event.target as HTMLSelectElement).value);
  // The event stream follows one tenant: start it again for the new one.
  void startSignedIn();
});
byId('dashboard-link').addEventListener('click', (event) => void openDashboard(event));
void startSignedIn();
