import 'reflect-metadata';
import { ensureTestTemplates } from './templates';

/** The browser tests' own tally, printed at the end so a run (CI's included) says how many and how long. */
const browser = { passed: 0, failed: 0, skipped: 0, firstStart: 0, lastEnd: 0 };
const inBrowserSuite = (test: Mocha.Runnable | undefined) => !!test?.file?.includes('/test/browser/');

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
    if (!inBrowserSuite(test)) return;
    browser.lastEnd = Date.now();
    if (test!.state === 'passed') browser.passed++;
    else if (test!.state === 'failed') browser.failed++;
    else browser.skipped++;
  },
  afterAll() {
    const ran = browser.passed + browser.failed + browser.skipped;
    if (!ran) return;
    const seconds = ((browser.lastEnd - browser.firstStart) / 1000).toFixed(1);
    console.log(
      `\n  browser tests: ${browser.passed} passed, ${browser.failed} failed, ${browser.skipped} skipped, ` +
        `${seconds} s from the first to the last`,
    );
  },
};
