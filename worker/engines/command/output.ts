import { redactSecrets } from '../../../shared/logger';

/** How much of each stream is kept: the end, where a script says why it failed. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

/** The last `limit` bytes written to a stream, and how many came before them. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly limit = OUTPUT_TAIL_BYTES) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Trimmed only when twice the limit, so a stream of small chunks is not copied on every write.
    if (this.size > 2 * this.limit) this.trim();
  }

  text(): string {
    this.trim();
    // A multi-byte character cut at the start decodes to U+FFFD: dropped, as is the partial line.
    let text = Buffer.concat(this.chunks).toString('utf8');
    if (this.dropped) text = `[${this.dropped} earlier bytes not kept]\n${text.replace(/^\uFFFD+/, '')}`;
    return text;
  }

  private trim(): void {
    if (this.size <= this.limit) return;
    const all = Buffer.concat(this.chunks);
    const kept = all.subarray(all.length - this.limit);
    this.dropped += all.length - kept.length;
    this.chunks = [kept];
    this.size = kept.length;
  }
}

// NAME_PASSWORD=value, "password": "value", client_secret: value (one line at a time).
const NAMED_SECRET =
  /([A-Za-z0-9_-]*(?:password|passwd|pwd|secret|token)[A-Za-z0-9_-]*["']?\s*[=:]\s*["']?)(?!\*\*\*)[^\s;"',]+/gi;

/**
 * Masks credentials in what a command printed: the configured secret values wherever they
 * appear, passwords in URLs and key=value connection strings, and values named like secrets.
 */
export function redactOutput(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const secret of secrets) masked = masked.split(secret).join('***');
  return masked
    .split('\n')
    .map((line) => redactSecrets(line).replace(NAMED_SECRET, '$1***'))
    .join('\n');
}

/** The last `max` characters of `text`, from a line start when one is near, for a message or a warning. */
export function lastLines(text: string, max: number): string {
  const trimmed = text.trimEnd();
  if (trimmed.length <= max) return trimmed;
  const tail = trimmed.slice(-max);
  const newline = tail.indexOf('\n');
  return '…' + (newline >= 0 && newline < max / 2 ? tail.slice(newline + 1) : tail);
}
