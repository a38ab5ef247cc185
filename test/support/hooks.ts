import 'reflect-metadata';
import { ensureTestTemplates } from './templates';

/** Root hooks: the test templates exist before any suite runs. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(600_000);
    await ensureTestTemplates();
  },
};
