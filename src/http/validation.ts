import type { z } from 'zod';
import { validationProblem, type FieldError } from './problem.ts';
import { printableExcerpt } from './text.ts';

/** A hostile body can name thousands of unknown keys; the answer names the first few, printable. */
const MAX_FIELD_ERRORS = 20;

function fieldName(path: ReadonlyArray<PropertyKey>): string {
  const name = path.reduce<string>((name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)), '');
  return printableExcerpt(name, 128) || '(body)';
}

export function fieldErrors(error: z.ZodError, where: FieldError['in']): FieldError[] {
  return error.issues.flatMap((issue) =>
    // An unknown key is named itself, not its parent object.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldName([...issue.path, key]), in: where, message: 'is not a known field' }))
      : [{ field: fieldName(issue.path), in: where, message: issue.message }],
  ).slice(0, MAX_FIELD_ERRORS);
}

/** Parses with a zod schema; every bad field is named in one 400. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where: FieldError['in']): T {
  const result = schema.safeParse(value);
  if (!result.success) throw validationProblem(fieldErrors(result.error, where));
  return result.data;
}
