/**
 * Browser tests: a headless Chromium driven by playwright-core, a watch on everything a page
 * reports going wrong (console errors, uncaught errors, failed requests, CSP violations) and an
 * accessibility check with axe-core. Suites skip, saying why, when no browser is installed.
 */
import { existsSync } from 'node:fs';
import { source as AXE_SOURCE } from 'axe-core';
import { expect } from 'chai';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** In a suite's `before`: skips the suite (with a line saying how to fix it) when there is no browser. */
export function skipWithoutBrowser(context: Mocha.Context): void {
  if (existsSync(CHROMIUM_PATH)) return;
  console.log(
    `      browser tests skipped: no Chromium at ${CHROMIUM_PATH} ` +
      '(install it with `apt-get install -y chromium`, or set CHROMIUM_PATH)',
  );
  context.skip();
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // Nothing but the page under test talks to the network.
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

export interface PageWatch {
  consoleErrors: string[];
  pageErrors: string[];
  failedRequests: string[];
  cspViolations: string[];
  /** Fails, listing everything, if the page reported any of the above. */
  expectClean(): void;
}

/**
 * Starts recording what goes wrong in `page`; call before the first navigation. CSP violations
 * come from a `securitypolicyviolation` listener added by an init script: init scripts are
 * injected through the DevTools protocol, which the page's CSP does not govern (the harness's
 * own test shows the listener working under a CSP that forbids inline scripts).
 */
export async function watchPage(page: Page): Promise<PageWatch> {
  const watch: PageWatch = {
    consoleErrors: [],
    pageErrors: [],
    failedRequests: [],
    cspViolations: [],
    expectClean() {
      const found = [
        ...watch.consoleErrors.map((m) => `console error: ${m}`),
        ...watch.pageErrors.map((m) => `page error: ${m}`),
        ...watch.failedRequests.map((m) => `failed request: ${m}`),
        ...watch.cspViolations.map((m) => `CSP violation: ${m}`),
      ];
      expect(found, `the page reported problems:\n  ${found.join('\n  ')}\n`).to.deep.equal([]);
    },
  };
  page.on('console', (message) => {
    // The location says which resource a bare "Failed to load resource" is about.
    if (message.type() === 'error') watch.consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => watch.pageErrors.push(error.message));
  page.on('requestfailed', (request) =>
    watch.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? '?'}`),
  );
  await page.exposeFunction('__odsimReportCspViolation', (violation: string) => watch.cspViolations.push(violation));
  // A string, not a function: the tests compile without the DOM's types.
  await page.addInitScript(`
    document.addEventListener('securitypolicyviolation', (event) => {
      const where = event.sourceFile ? ' at ' + event.sourceFile + ':' + event.lineNumber : '';
      window.__odsimReportCspViolation(
        event.effectiveDirective + ' blocked ' + event.blockedURI + where + ': ' + event.sample,
      );
    });
  `);
  return watch;
}

interface AxeResults {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
}

/**
 * Runs axe-core in the page and fails on any `serious` or `critical` violation, naming the rule,
 * its impact and the elements. axe is evaluated through the DevTools protocol rather than added
 * as a <script> element, which the page's CSP would refuse. `context` limits the check to part
 * of the page (a selector), as axe's own `context` argument does.
 */
export async function expectAccessible(page: Page, context?: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const results: AxeResults['violations'] = await page.evaluate(async (selector) => {
    // In the page; `globalThis` because the tests compile without the DOM's types.
    const page = globalThis as any;
    const { violations } = (await page.axe.run(selector ?? page.document)) as AxeResults;
    // Only what the assertion reads crosses back (axe's full results are large).
    return violations.map(({ id, impact, help, nodes }) => ({
      id,
      impact,
      help,
      nodes: nodes.map((n) => ({ target: n.target })),
    }));
  }, context ?? null);
  const serious = results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const lines = serious.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}\n    at ${v.nodes
        .slice(0, 5)
        .map((n) => JSON.stringify(n.target))
        .join(', ')}${v.nodes.length > 5 ? ` and ${v.nodes.length - 5} more` : ''}`,
  );
  expect(lines, `axe found serious accessibility violations:\n  ${lines.join('\n  ')}\n`).to.deep.equal([]);
}

/** Signs in through the web UI's own form, as a user would, and waits for the instance list. */
export async function signInThroughUi(
  page: Page,
  baseUrl: string,
  client: { client_id: string; client_secret: string },
): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Client id').fill(client.client_id);
  await page.getByLabel('Client secret').fill(client.client_secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
}
