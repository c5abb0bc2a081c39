// fast-check generators of hostile input for test/http/hostile-requests.test.ts: strings that break
// the text policy, numbers out of range or in odd JSON forms, wrong types, huge and deep JSON, and
// raw HTTP no client library would send. Every generated body is JSON *text*, so duplicate keys,
// exponent forms and escapes reach the server exactly as written.
import fc from 'fast-check';

const q = (s: string) => JSON.stringify(s);

/** Usually `valid`, sometimes `hostile`: so that whole requests also get past validation now and then. */
export const mostly = <T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: hostile });
/** Usually absent (null). */
export const rarely = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

/** Any UTF-16 code unit: controls, lone surrogates, noncharacters included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
export const anyString = fc.string({ unit: fc.oneof(anyUnit, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 40 });

const controls = ['\u0000', '\u0001', '\u0009', '\u000a', '\u000d', '\u001b', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f'];

/** Strings that break the text policy whatever surrounds them. */
export const badText = fc.oneof(
  fc.tuple(anyString, fc.constantFrom(...controls), anyString).map(([a, c, b]) => a + c + b),
  // A lone surrogate stays lone: a high one is followed, a low one preceded, by a plain letter.
  fc.tuple(anyString, fc.constantFrom('\ud800x', '\udbffx', 'x\udc00', 'x\udfff'), anyString).map(([a, s, b]) => a + s + b),
  // e + COMBINING ACUTE composes to é under NFC, so the string is never NFC.
  fc.tuple(anyString, anyString).map(([a, b]) => `${a}e\u0301${b}`),
  fc.string({ minLength: 65, maxLength: 300 }),
  fc.constant(''),
);

/** Plausible text that no catalog SKU is (demo SKUs are upper-case; these start with "zz-"), NFC. */
export const unknownSku = fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => `zz-${s.normalize('NFC')}`.slice(0, 60).toWellFormed());

/** JSON text of a value of the wrong type for a string or a number field. */
export const wrongType = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '[]', '{}', '[null]', '{"$ne":1}', '""'),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
);

/** JSON number text that is not an integer 1..999: fractions, exponents, out of range, unsafe. */
export const badQuantity = fc.oneof(
  fc.constantFrom('0', '-1', '1000', '1e3', '1E400', '-0', '0.5', '999.0000001', '1e-7', '9007199254740993', '-9007199254740993', '1.5e2'),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !(Number.isInteger(d) && d >= 1 && d <= 999)).map((d) => JSON.stringify(d)),
  fc.integer().filter((i) => i < 1 || i > 999).map(String),
  anyString.map(q),
);

/** A body too big (over 64 KiB) or too deep, as text. */
export const monsterJson = fc.oneof(
  fc.integer({ min: 1, max: 30_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 1, max: 15_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  fc.integer({ min: 66_000, max: 200_000 }).map((n) => `{"customerId":"${'x'.repeat(n)}"}`),
);

const member = (key: string, valueText: string) => `${q(key)}:${valueText}`;

/** A POST /checkout body (text) with at least one hostile part, that never names a catalog SKU. */
export const hostileCheckoutBody = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    customerId: mostly(unknownSku.map(q), fc.oneof(badText.map(q), wrongType)),
    sku: mostly(unknownSku.map(q), fc.oneof(badText.map(q), wrongType)),
    quantity: mostly(fc.integer({ min: 1, max: 999 }).map(String), badQuantity),
    currency: rarely(fc.oneof(fc.constantFrom('"nzd"', '"NZD"', '"nz"', '"nzd\\u0000"'), anyString.map(q), wrongType)),
    lines: fc.integer({ min: 0, max: 3 }),
    extraKey: rarely(fc.tuple(anyString, wrongType)),
    duplicateKey: rarely(fc.oneof(badText.map(q), wrongType)),
  }).map((b) => {
    const item = member('sku', b.sku) + ',' + member('quantity', b.quantity);
    const items = b.lines === 0 ? '[]' : `[${Array.from({ length: b.lines }, () => `{${item}}`).join(',')}]`;
    const members = [member('customerId', b.customerId), member('items', items)];
    if (b.currency !== null) members.push(member('currency', b.currency));
    if (b.extraKey !== null) members.push(member(b.extraKey[0], b.extraKey[1]));
    // Duplicate keys: JSON.parse keeps the last one, so the hostile value is the one that counts.
    if (b.duplicateKey !== null) members.push(member('customerId', b.duplicateKey));
    return `{${members.join(',')}}`;
  }) },
  { weight: 1, arbitrary: fc.integer({ min: 101, max: 150 }).map((n) => `{"customerId":"c","items":[${Array.from({ length: n }, (_, i) => `{"sku":"zz-${i}","quantity":1}`).join(',')}]}`) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: monsterJson },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom('', '{', '{"customerId":', 'nul', '{"a":1}x', '\u0000', "{'a':1}"), anyString) },
);

/** Bytes that are not UTF-8: lone continuation bytes, overlong forms, encoded surrogates, 0xFF. */
export const invalidUtf8 = fc.constantFrom(
  Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0x80]), Buffer.from([0xe2, 0x82]),
);

export const hostileContentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', '') },
);

/** Header values the HTTP parser lets through (no CR, LF, NUL): printable ASCII, latin1, oversized. */
export const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 20 }),
  fc.constant(''),
);

/** A path segment for /orders/{orderId}: encoded NUL and surrogates, overlong UTF-8, traversal, size. */
export const hostileOrderId = fc.oneof(
  fc.uuid().map((u) => u.toUpperCase()),
  fc.uuid(),
  fc.constantFrom('%00', '%ED%A0%80', '%C0%AF', '%FF', '%', '%zz', '..%2F..%2Fetc', '00000000-0000-0000-0000-00000000000%00', ' ', '%20', 'null', '-1'),
  anyString.map((s) => encodeURIComponent(s.toWellFormed())),
  fc.integer({ min: 100, max: 20_000 }).map((n) => 'a'.repeat(n)),
);

const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-'.split('')), minLength: 1, maxLength: 12 });

/** Raw HTTP/1.1 requests with broken framing, odd methods and versions, hostile header bytes. */
export const rawHttpRequest = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'BREW', 'get', 'P\u00d6ST', ''), token),
  target: fc.oneof(fc.constantFrom('/checkout', '/orders/x', '/webhooks/stripe', '/healthz', '*', 'http://x/healthz', '/%00', '/\u00ff', '//'), anyString.map((s) => `/${s.toWellFormed()}`)),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/0.9', ''),
  headers: fc.array(fc.tuple(fc.oneof(token, fc.constantFrom('Content-Type', 'Transfer-Encoding', 'Expect', 'Host', 'X-Request-Id', 'Idempotency-Key', 'Stripe-Signature')),
    fc.oneof(headerValue, fc.constantFrom('chunked', 'gzip, chunked', '100-continue', 'a\u0000b', 'a\rb', '\u0001'))), { maxLength: 6 }),
  framing: fc.constantFrom('exact', 'invalid-length', 'two-lengths', 'length-and-chunked', 'bad-chunk'),
  body: fc.oneof(anyString, fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))),
}).map((r) => {
  const body = Buffer.from(r.body, 'utf8');
  const framing = {
    exact: [`Content-Length: ${body.length}`],
    'invalid-length': ['Content-Length: 1x'],
    'two-lengths': [`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`],
    'length-and-chunked': [`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'],
    'bad-chunk': ['Transfer-Encoding: chunked'],
  }[r.framing];
  const payload = r.framing === 'bad-chunk' ? Buffer.from('zz\r\nxx\r\n') : body;
  const head = [`${r.method} ${r.target} ${r.version}`.trim(), 'Host: x', 'Connection: close', ...r.headers.map(([k, v]) => `${k}: ${v}`), ...framing];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
});
