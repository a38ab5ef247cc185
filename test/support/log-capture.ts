import { PassThrough } from 'node:stream';
import { createLogger, Logger } from '../../shared/logger';

/** A real JSON logger whose lines a test can read back as events. */
export class CapturedLog {
  readonly lines: Record<string, unknown>[] = [];
  readonly logger: Logger;

  constructor(service = 'test', level = 'debug') {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      for (const line of String(chunk).split('\n').filter(Boolean))
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    this.logger = createLogger(service, level, stream);
  }

  events(name: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.event === name);
  }
}
