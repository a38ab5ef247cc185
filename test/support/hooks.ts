import 'reflect-metadata';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTestTemplates } from './templates';

/**
 * Root hooks and global teardown of the test runs (`--require dist/test/support/hooks.js`), serial
 * or parallel (`npm test` runs two mocha workers, `--parallel --jobs 2`).
 *
 * Each file's time and the browser tests' tally are written, one JSON line per file, to a file named
 * after the main mocha process (a parallel worker's parent); its global teardown prints the slowest
 * files and the browser tally once, at the end of the run, after mocha's own summary.
 */
interface FileRecord {
  file: string;
  ms: number;
  browser: { passed: number; failed: number; skipped: number; firstStart: number; lastEnd: number };
}

/** Set by mocha in each process of a parallel run; there the root hooks run once per file. */
const parallelWorker = process.env.MOCHA_WORKER_ID !== undefined;
const recordsPath = (mainPid: number) => join(tmpdir(), `odsim-test-files-${mainPid}.jsonl`);
const record = (r: FileRecord) =>
  appendFileSync(recordsPath(parallelWorker ? process.ppid : process.pid), `${JSON.stringify(r)}\n`);

const emptyTally = (): FileRecord['browser'] => ({ passed: 0, failed: 0, skipped: 0, firstStart: 0, lastEnd: 0 });
let browser = emptyTally();
const inBrowserSuite = (test: Mocha.Runnable | undefined) => !!test?.file?.includes('/test/browser/');
const fileOf = (test: Mocha.Runnable | undefined) => (test?.file ?? '?').replace(/^.*\/dist\/test\//, '');

/**
 * Serial run: milliseconds per test file, counted from the end of the previous test (so a file's
 * before hooks are its own; its after hooks fall to the next file). Parallel run: from the file's
 * first root hook to its last (the root suite of a worker is one file).
 */
const fileTimes = new Map<string, number>();
let lastTestEnd = 0;
let fileStart = 0;
let lastFile = '';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(600_000);
    fileStart = Date.now();
    await ensureTestTemplates();
  },
  beforeEach(this: Mocha.Context) {
    if (inBrowserSuite(this.currentTest) && !browser.firstStart) browser.firstStart = Date.now();
  },
  afterEach(this: Mocha.Context) {
    const test = this.currentTest;
    lastFile = fileOf(test);
    const now = Date.now();
    fileTimes.set(lastFile, (fileTimes.get(lastFile) ?? 0) + (now - (lastTestEnd || now)));
    lastTestEnd = now;
    if (!inBrowserSuite(test)) return;
    browser.lastEnd = Date.now();
    if (test!.state === 'passed') browser.passed++;
    else if (test!.state === 'failed') browser.failed++;
    else browser.skipped++;
  },
  afterAll() {
    if (parallelWorker) {
      if (lastFile) record({ file: lastFile, ms: Date.now() - fileStart, browser });
    } else {
      for (const [file, ms] of fileTimes) record({ file, ms, browser: emptyTally() });
      record({ file: '', ms: 0, browser });
    }
    browser = emptyTally();
    lastFile = '';
  },
};

/** Once, in the main mocha process, after the run: the slowest files and the browser tests' tally. */
export function mochaGlobalTeardown() {
  const path = recordsPath(process.pid);
  let records: FileRecord[];
  try {
    records = readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as FileRecord);
  } catch {
    return; // no test ran with the root hooks
  }
  rmSync(path, { force: true });
  const slowest = records
    .filter((r) => r.file)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 25);
  if (slowest.length > 1)
    console.log(
      `\n  slowest test files (${parallelRunNote(records)}):\n${slowest
        .map(({ file, ms }) => `    ${(ms / 1000).toFixed(1).padStart(6)} s  ${file}`)
        .join('\n')}`,
    );
  const tally = records.map((r) => r.browser).filter((b) => b.passed + b.failed + b.skipped > 0);
  if (!tally.length) return;
  const sum = (key: 'passed' | 'failed' | 'skipped') => tally.reduce((n, b) => n + b[key], 0);
  const seconds = (
    (Math.max(...tally.map((b) => b.lastEnd)) - Math.min(...tally.map((b) => b.firstStart))) /
    1000
  ).toFixed(1);
  console.log(
    `\n  browser tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped, ` +
      `${seconds} s from the first to the last`,
  );
}

function parallelRunNote(records: FileRecord[]): string {
  // A serial run writes a closing record with no file; a parallel one does not.
  return records.some((r) => !r.file)
    ? 'from the end of the previous test'
    : 'each file from its first hook to its last';
}
