import 'reflect-metadata';
import { ensureTestTemplates } from './templates';

/** The browser tests' own tally, printed at the end so a run (CI's included) says how many and how long. */
const browser = { passed: 0, failed: 0, skipped: 0, firstStart: 0, lastEnd: 0 };
const inBrowserSuite = (test: Mocha.Runnable | undefined) => !!test?.file?.includes('/test/browser/');
/**
 * Milliseconds per test file, counted from the end of the previous test (so a file's before hooks
 * are its own; its after hooks fall to the next file): the slowest are printed at the end.
 */
const fileTimes = new Map<string, number>();
let lastTestEnd = 0;

/** Root hooks: the test templates exist before any suite runs. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(600_000);
    await ensureTestTemplates();
  },
  beforeEach(this: Mocha.Context) {
    if (inBrowserSuite(this.currentTest) && !browser.firstStart) browser.firstStart = Date.now();
  },
  afterEach(this: Mocha.Context) {
    const test = this.currentTest;
    const file = (test?.file ?? '?').replace(/^.*\/dist\/test\//, '');
    const now = Date.now();
    fileTimes.set(file, (fileTimes.get(file) ?? 0) + (now - (lastTestEnd || now)));
    lastTestEnd = now;
    if (!inBrowserSuite(test)) return;
    browser.lastEnd = Date.now();
    if (test!.state === 'passed') browser.passed++;
    else if (test!.state === 'failed') browser.failed++;
    else browser.skipped++;
  },
  afterAll() {
    const slowest = [...fileTimes].sort((a, b) => b[1] - a[1]).slice(0, 25);
    if (slowest.length > 1)
      console.log(
        `\n  slowest test files (from the end of the previous test):\n${slowest
          .map(([file, ms]) => `    ${(ms / 1000).toFixed(1).padStart(6)} s  ${file}`)
          .join('\n')}`,
      );
    const ran = browser.passed + browser.failed + browser.skipped;
    if (!ran) return;
    const seconds = ((browser.lastEnd - browser.firstStart) / 1000).toFixed(1);
    console.log(
      `\n  browser tests: ${browser.passed} passed, ${browser.failed} failed, ${browser.skipped} skipped, ` +
        `${seconds} s from the first to the last`,
    );
  },
};
