import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { Problem } from './problem.ts';
import { printableExcerpt } from './text.ts';

export const BODY_LIMIT_BYTES = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The exact bytes of the body (webhook signatures are over these), at most 64 KiB. */
export async function readRawBody(ctx: Context): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit: BODY_LIMIT_BYTES, length: ctx.get('content-length') || undefined });
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 413) throw new Problem(413, 'body-too-large', 'Request body too large', { detail: `The limit is ${BODY_LIMIT_BYTES} bytes.` });
    if (status === 400) throw new Problem(400, 'malformed-body', 'Malformed request body');
    throw error;
  }
}

/** A JSON body: 415 for another content type, 400 for bytes that are not JSON. */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  if (!ctx.is('application/json')) {
    throw new Problem(415, 'unsupported-media-type', 'Content-Type must be application/json', {
      detail: `Got ${printableExcerpt(ctx.get('content-type'), 128) || 'no Content-Type'}.`,
    });
  }
  const raw = await readRawBody(ctx);
  try {
    // JSON is UTF-8 (RFC 8259 §8.1): invalid bytes are refused, not silently made U+FFFD.
    return JSON.parse(utf8.decode(raw));
  } catch {
    throw new Problem(400, 'malformed-json', 'The body is not valid UTF-8 JSON');
  }
}
