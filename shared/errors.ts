/**
 * The application's error vocabulary. Each class carries its HTTP status so that one
 * middleware (api/http/problems.ts) can turn any of them into problem+json.
 */
export type FieldErrors = Record<string, string[]>;

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly title: string;
  /** Extra members for the problem+json body (RFC 9457 allows them). */
  readonly extensions: Record<string, unknown> = {};
  /** Seconds after which the same request may succeed; the problem handler sends it as Retry-After. */
  retryAfterSeconds?: number;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  retryAfter(seconds: number): this {
    this.retryAfterSeconds = seconds;
    return this;
  }
}

export class ValidationError extends AppError {
  readonly status = 400;
  readonly title = 'Validation failed';
  constructor(
    message: string,
    readonly errors: FieldErrors = {},
  ) {
    super(message);
  }
}

export class UnauthorizedError extends AppError {
  readonly status = 401;
  readonly title = 'Unauthorized';
}

/** A refusal from the token endpoint: problem+json that also carries RFC 6749's `error` member. */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_scope' | 'unsupported_grant_type';
export class OAuthError extends AppError {
  readonly title = 'Token request refused';
  constructor(
    readonly status: 400 | 401,
    readonly error: OAuthErrorCode,
    message: string,
  ) {
    super(message);
    Object.assign(this.extensions, { error, error_description: message });
  }
}

export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly title = 'Payload too large';
}

export class TooManyRequestsError extends AppError {
  readonly status = 429;
  readonly title = 'Too many requests';
}

export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly title = 'Unsupported media type';
}

export class ForbiddenError extends AppError {
  readonly status = 403;
  readonly title = 'Forbidden';
}

export class NotFoundError extends AppError {
  readonly status = 404;
  readonly title = 'Not found';
}

export class MethodNotAllowedError extends AppError {
  readonly status = 405;
  readonly title = 'Method not allowed';
}

export class ConflictError extends AppError {
  readonly status = 409;
  readonly title = 'Conflict';
}

export class ServiceUnavailableError extends AppError {
  readonly status = 503;
  readonly title = 'Service unavailable';
  /** Retry-After, so that well-behaved clients back off instead of hammering. */
  constructor(message: string, retryAfterSeconds?: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Raised by a job handler when retrying cannot help (the database is not ours, the template is missing...). */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/**
 * Start-up configuration is wrong, or the servers it names cannot serve it (a login that lacks
 * a privilege): the message lists every problem at once, under `heading`.
 */
export class ConfigurationError extends Error {
  constructor(
    readonly problems: string[],
    heading = 'Invalid configuration',
  ) {
    super(`${heading}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigurationError';
  }
}
