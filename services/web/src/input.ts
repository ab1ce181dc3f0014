import { z } from 'zod';
import { ValidationError } from '@ami/lib';

/**
 * Checks of what a client sends, so that anything that passes can be stored
 * in ClickHouse and sent to Kafka as it is: text is well-formed Unicode (no
 * lone surrogates) without control characters, numbers are whole and fit the
 * contract's 32-bit int.
 */

/** Control characters and lone surrogates (the `u` flag makes a lone surrogate a code point of its own). */
const NOT_TEXT = /[\p{Cc}\p{Cs}]/u;

export const INT32_MAX = 2_147_483_647;

export function isPlainText(s: string): boolean {
  return !NOT_TEXT.test(s);
}

/** A string of at most `max` characters, well-formed, without control characters. */
export function text(max: number) {
  return z
    .string()
    .max(max, `at most ${max} characters`)
    .refine(isPlainText, 'must be well-formed text without control characters');
}

/** zod's issues as one line: `path: message; ...`. */
export function describeIssues(error: z.ZodError, root = 'body'): string {
  return error.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`).join('; ');
}

/** Parses with `schema` or throws a ValidationError (400) naming each problem. */
export function parseOr400<S extends z.ZodTypeAny>(schema: S, data: unknown, root: string): z.infer<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw new ValidationError(describeIssues(r.error, root));
  return r.data as z.infer<S>;
}
