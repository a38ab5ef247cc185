/**
 * Starts swagger-ui on the API's own document. /openapi.json needs a token, so the page uses the
 * main UI's session (sessionStorage `odsim.session`): it loads the document with the token and
 * pre-authorizes "Try it out". With no session, an expired one, or a token the API refuses, the
 * page says to sign in first instead of showing a broken page.
 */

import { isExpired, loadSession, type Session } from './session.js';

const DOCUMENT_URL = '/openapi.json';
/** The security scheme's name in the OpenAPI document. */
const SECURITY_SCHEME = 'bearer';

function currentSession(): Session | undefined {
  const session = loadSession();
  return session && !isExpired(session) ? session : undefined;
}

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

function askToSignIn(): void {
  element('swagger-ui').hidden = true;
  element('sign-in').hidden = false;
}

function showDocs(session: Session): void {
  element('swagger-ui').hidden = false;
  const ui = SwaggerUIBundle({
    url: DOCUMENT_URL,
    dom_id: '#swagger-ui',
    // The validator badge would send the document to validator.swagger.io.
    validatorUrl: null,
    // swagger-ui's default theme (agate) colours some tokens below WCAG AA contrast.
    syntaxHighlight: { theme: 'obsidian' },
    requestInterceptor: (request) => {
      if (request.loadSpec) request.headers.Authorization = `Bearer ${session.accessToken}`;
      return request;
    },
    responseInterceptor: (response) => {
      // A token the API no longer takes (revoked, or its client disabled): same as no session.
      if (response.status === 401 && new URL(response.url, location.href).pathname === DOCUMENT_URL) askToSignIn();
      return response;
    },
    // "Try it out" then sends the token, and shows it in the curl line, as a signed-in user expects.
    onComplete: () => ui.preauthorizeApiKey(SECURITY_SCHEME, session.accessToken),
  });
}

const session = currentSession();
if (session) showDocs(session);
else askToSignIn();
