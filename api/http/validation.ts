import 'reflect-metadata';
import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validateSync, ValidationError as ClassValidationError } from 'class-validator';
import { FieldErrors, UnsupportedMediaTypeError, ValidationError } from '../../shared/errors';

function collect(errors: ClassValidationError[], into: FieldErrors, prefix = ''): FieldErrors {
  for (const e of errors) {
    const path = prefix + e.property;
    if (e.constraints) into[path] = Object.values(e.constraints);
    if (e.children?.length) collect(e.children, into, `${path}.`);
  }
  return into;
}

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * The edge of the API: plain input becomes a typed, validated DTO or a 400 that lists every
 * problem by field. Unknown fields are refused, so a typo never passes silently.
 */
export function toDto<T extends object>(cls: ClassConstructor<T>, input: unknown, what = 'request body'): T {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError(`The ${what} must be a JSON object.`);
  }
  // class-transformer drops these keys silently; like any other unknown field they are refused.
  const prototypeKeys = PROTOTYPE_KEYS.filter((key) => Object.prototype.hasOwnProperty.call(input, key));
  if (prototypeKeys.length) {
    throw new ValidationError(
      `The ${what} is invalid.`,
      Object.fromEntries(prototypeKeys.map((key) => [key, [`property ${key} should not exist`]])),
    );
  }
  let dto: T;
  try {
    dto = plainToInstance(cls, input, { enableImplicitConversion: false });
  } catch {
    // class-transformer walks every nested value: deep nesting exhausts its stack, and a value
    // such as {"constructor": 1} breaks it. The only nested values we take (odsInstanceContexts)
    // are flat objects of two strings, which never break it.
    throw new ValidationError(`The ${what} has nested values this API does not accept.`);
  }
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (errors.length) throw new ValidationError(`The ${what} is invalid.`, collect(errors, {}));
  return dto;
}

/** Bodies of writes must be JSON; anything else is a 415, not a confusing 400. */
export function requireJsonBody(): import('express').RequestHandler {
  return (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is(['application/json', 'application/*+json'])) {
      throw new UnsupportedMediaTypeError('Send the body as application/json.');
    }
    next();
  };
}

/** The `:id` path parameter as one string. */
export function pathId(req: import('express').Request): string {
  const id = req.params.id;
  return Array.isArray(id) ? id.join('/') : String(id);
}
