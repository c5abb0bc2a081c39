// Issue 10.2: the HTTP server under the app. Timeouts, the connection cap, problem documents where
// Node's parser refuses a request, and refusals that a client still sending its body can read (the
// connection is closed in stages, RFC 9112 §9.6, not reset).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { closed, keepSending, rawExchange, sendBeforeReading, type RawExchange } from '../support/raw-http.ts';
import { startTestService, type TestService } from '../support/service.ts';
import { signature } from '../support/stripe-events.ts';
import { waitUntil } from '../support/wait.ts';

const CAP = 40;
let service: TestService;
beforeAll(async () => {
  service = await startTestService({
    HTTP_REQUEST_TIMEOUT_MS: '1500', HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '500', HTTP_MAX_CONNECTIONS: String(CAP),
  });
});
afterAll(async () => service?.stop());

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

function expectProblem(exchange: RawExchange, status: number, type?: string) {
  expect(exchange.error).toBeUndefined();
  expect(exchange.response?.status).toBe(status);
  expect(exchange.response?.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(exchange.response!.body);
  expect(body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  if (type) expect(body.type).toBe(type);
}

describe('a refusal before the body is read reaches a client that keeps sending', () => {
  it.each([
    ['413: Content-Length over the limit', '/checkout', ['Content-Type: application/json', 'Idempotency-Key: k-413'], 413],
    ['415: not JSON', '/checkout', ['Content-Type: text/plain', 'Idempotency-Key: k-415'], 415],
    ['400: webhook without Stripe-Signature', '/webhooks/stripe', ['Content-Type: application/json'], 400],
    ['404: an unknown route', '/nowhere', ['Content-Type: application/json'], 404],
  ])('%s', async (_name, path, headers, status) => {
    for (const connection of ['keep-alive', 'close']) {
      for (const client of [keepSending, (socket: Socket) => sendBeforeReading(socket, 8 * 1024 * 1024)]) {
        const exchange = await rawExchange(service.url, (socket) => {
          socket.write(head([`POST ${path} HTTP/1.1`, 'Host: x', ...headers, 'Content-Length: 100000000', `Connection: ${connection}`]));
          client(socket);
        });
        expectProblem(exchange, status);
        expect(exchange.response?.headers.connection).toBe('close');
      }
    }
  });

  it('a chunked body over the limit: 413, read while the client still sends', async () => {
    const exchange = await rawExchange(service.url, (socket) => {
      socket.write(head(['POST /checkout HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Idempotency-Key: k-chunked', 'Transfer-Encoding: chunked']));
      keepSending(socket, Buffer.from(`4000\r\n${'a'.repeat(0x4000)}\r\n`));
    });
    expectProblem(exchange, 413, '/problems/body-too-large');
  });

  it('after the refusal the server closes the connection itself (the client is not kept)', async () => {
    let socket: Socket | undefined;
    const exchange = await rawExchange(service.url, (s) => {
      socket = s;
      s.write(head(['POST /checkout HTTP/1.1', 'Host: x', 'Content-Type: text/plain', 'Content-Length: 100000000']));
      keepSending(s);
    });
    expectProblem(exchange, 415);
    await closed(socket!);
  });
});

describe('timeouts', () => {
  it('a body slower than HTTP_REQUEST_TIMEOUT_MS (a lying Content-Length): 408 problem, then closed', async () => {
    const exchange = await rawExchange(service.url, (socket) => {
      socket.write(head(['POST /checkout HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Idempotency-Key: k-slow', 'Content-Length: 1000']));
      socket.write('{"customerId":');
    });
    expectProblem(exchange, 408, '/problems/request-timeout');
  });

  it('headers slower than HTTP_HEADERS_TIMEOUT_MS: 408 problem', async () => {
    const exchange = await rawExchange(service.url, (socket) => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    expectProblem(exchange, 408);
  });

  it('an idle kept-alive connection is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const { hostname, port } = new URL(service.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    socket.write(head(['GET /healthz HTTP/1.1', 'Host: x']));
    let received = '';
    socket.on('data', (chunk: Buffer) => { received += chunk.toString(); });
    await closed(socket);
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe("requests Node's parser refuses get a problem document", () => {
  it.each([
    ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400],
    ['an invented method', head(['BREW /checkout HTTP/1.1', 'Host: x']), 400],
    ['Content-Length and Transfer-Encoding together', head(['POST /checkout HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Transfer-Encoding: chunked']), 400],
    ['two different Content-Lengths', head(['POST /checkout HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Content-Length: 6']), 400],
    ['a bad chunk size', `${head(['POST /checkout HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Transfer-Encoding: chunked'])}zz\r\n`, 400],
    ['NUL in a header value', head(['GET /healthz HTTP/1.1', 'Host: x', 'X-Request-Id: a\u0000b']), 400],
    ['header fields over 16 KiB', head(['GET /healthz HTTP/1.1', 'Host: x', `X-Big: ${'a'.repeat(20_000)}`]), 431],
    ['a path over 16 KiB', head([`GET /orders/${'a'.repeat(20_000)} HTTP/1.1`, 'Host: x']), 431],
    ['HTTP/1.1 without Host', head(['GET /healthz HTTP/1.1']), 400],
    ['Expect other than 100-continue', head(['POST /checkout HTTP/1.1', 'Host: x', 'Expect: 200-ok', 'Content-Length: 2', 'Content-Type: application/json']), 417],
  ])('%s → %s', async (_name, request, status) => {
    const exchange = await rawExchange(service.url, (socket) => socket.write(request));
    expectProblem(exchange, status);
  });

  it('Expect: 100-continue works: the body follows the interim response', async () => {
    const payload = '{}';
    const exchange = await rawExchange(service.url, (socket) => {
      socket.write(head(['POST /webhooks/stripe HTTP/1.1', 'Host: x', 'Expect: 100-continue', 'Content-Type: application/json',
        `Stripe-Signature: ${signature(payload, 'whsec_wrongSecret000')}`, `Content-Length: ${payload.length}`]));
      socket.once('data', () => socket.write(payload));
    });
    expectProblem(exchange, 400, '/problems/invalid-signature');
  });
});

describe('HTTP_MAX_CONNECTIONS', () => {
  const connections = () => new Promise<number>((resolve) => service.server.getConnections((_e, n) => resolve(n)));

  it('drops connections beyond the cap and accepts again once one closes', async () => {
    // Connections closed by earlier tests may still linger (closing in stages): let them go first.
    await waitUntil('no connection is open', async () => (await connections()) === 0);
    const open: Socket[] = [];
    try {
      // CAP idle connections that have sent half a request.
      for (let i = 0; i < CAP; i++) {
        open.push(await new Promise<Socket>((resolve) => {
          void rawExchange(service.url, (s) => {
            s.write('GET /healthz HTTP/1.1\r\n');
            resolve(s);
          });
        }));
      }
      await waitUntil(`the server counts ${CAP} connections`, async () => (await connections()) >= CAP);
      const dropped = await rawExchange(service.url, (s) => s.write(head(['GET /healthz HTTP/1.1', 'Host: x'])));
      expect(dropped.response).toBeNull();
    } finally {
      for (const socket of open) socket.destroy();
    }
    await waitUntil('connections below the cap', async () => (await connections()) < CAP);
    const accepted = await rawExchange(service.url, (s) => s.write(head(['GET /healthz HTTP/1.1', 'Host: x', 'Connection: close'])));
    expect(accepted.response?.status).toBe(200);
  });
});

describe('configuration', () => {
  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP_MAX_CONNECTIONS: '0' })).toThrow(/HTTP_MAX_CONNECTIONS/);
  });
});
