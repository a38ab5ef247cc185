import helmet from 'helmet';

/**
 * The Content Security Policy of every response, JSON and the /docs page alike: nothing but
 * this origin's own files, no inline script or style, no plugins, no framing. Stricter than
 * helmet's defaults on styles and fonts (no `https:`, no `'unsafe-inline'`).
 *
 * No `upgrade-insecure-requests`: the service is often reached over plain HTTP on a LAN or on
 * loopback, with TLS (when there is any) ended by a proxy in front; the directive would make a
 * browser ask for https:// assets that nothing there serves.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
};

/** helmet's standard headers, with the policy above instead of its default one. */
export function securityHeaders() {
  return helmet({ contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY } });
}
