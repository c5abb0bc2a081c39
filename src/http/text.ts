import { z } from 'zod';

// Unicode general category Cc: C0 controls (NUL included), DEL and the C1 controls.
const CONTROL = /\p{Cc}/u;

/**
 * The character policy of every free-text string the API accepts (OpenAPI descriptions and the
 * README repeat it). PostgreSQL cannot store NUL in text (22021) nor a lone surrogate in jsonb
 * (22P02), so these never reach SQL. Non-NFC text is refused rather than normalised: a silently
 * rewritten SKU or customer id would no longer be the client's own value.
 */
export const TEXT_POLICY =
  'No control characters (C0 incl. NUL, DEL, C1), well-formed Unicode (no lone surrogates), Unicode Normalization Form C (NFC; other forms are refused, not rewritten). Length in Unicode code points.';

/** Code points, as PostgreSQL's length() and JSON Schema's maxLength count them (not UTF-16 units). */
export function codePointLength(value: string): number {
  let length = 0;
  for (const _ of value) length += 1;
  return length;
}

/** Why `value` breaks the text policy, or undefined. Cheap checks first: bodies are at most 64 KiB. */
export function textPolicyViolation(value: string, min: number, max: number): string | undefined {
  const length = codePointLength(value);
  if (length < min || length > max) return min === max ? `must be ${max} characters` : `must be ${min} to ${max} characters`;
  if (!value.isWellFormed()) return 'must be well-formed Unicode (it contains a lone surrogate)';
  if (CONTROL.test(value)) return 'must not contain control characters (NUL, C0, C1)';
  if (value.normalize('NFC') !== value) return 'must be in Unicode Normalization Form C (NFC)';
  return undefined;
}

/**
 * The one zod building block for free-text request strings: length in code points plus the policy.
 * Its JSON Schema (OpenAPI) carries the same bounds, a pattern for the controls and the policy text.
 */
export function text(options: { min?: number; max: number; description?: string }) {
  const min = options.min ?? 1;
  const { max } = options;
  return z
    .string()
    .superRefine((value, ctx) => {
      const message = textPolicyViolation(value, min, max);
      if (message) ctx.addIssue({ code: 'custom', message });
    })
    .meta({
      minLength: min,
      maxLength: max,
      pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]*$',
      description: [options.description, TEXT_POLICY].filter(Boolean).join(' '),
    });
}

/**
 * A bounded, printable excerpt of untrusted text for logs, problem details and anomaly records:
 * lone surrogates and controls become U+FFFD, so the result is always storable and loggable.
 */
export function printableExcerpt(value: string, max = 200): string {
  const clean = value.toWellFormed().replace(/\p{Cc}/gu, '\uFFFD');
  return codePointLength(clean) <= max ? clean : `${Array.from(clean).slice(0, max - 1).join('')}…`;
}
