// The Node HTTP server under the Koa app, hardened (issue 10.2): explicit timeouts and a connection
// cap instead of Node's defaults (a slow body or a lying Content-Length was held for 300 s), a
// problem document wherever Node itself would answer with a bare status line, and connections
// closed in stages so that a client still sending its body reads the refusal instead of a reset.
import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type Koa from 'koa';
import type { Middleware } from 'koa';
import type { Logger } from '../log.ts';
import { Problem, PROBLEM_CONTENT_TYPE, problemDocument } from './problem.ts';

export type HttpServerOptions = {
  port: number;
  host: string;
  /** Whole request, headers and body (Node's requestTimeout). */
  requestTimeoutMs: number;
  /** Headers alone (Node's headersTimeout); at most requestTimeoutMs. */
  headersTimeoutMs: number;
  /** Idle time between requests on a kept-alive connection. */
  keepAliveTimeoutMs: number;
  /** Connections beyond this are dropped by Node (server.maxConnections). */
  maxConnections: number;
};

/**
 * How long a connection being closed keeps reading, and discarding, what the client still sends
 * after the last response: RFC 9112 §9.6 "tear-down" — a server that closes with unread input
 * makes its TCP stack send a reset, which can erase the response before the client reads it.
 */
export const LINGER_MS = 2_000;

/**
 * Outermost middleware: a response given before the request body was read (413, 415, a missing
 * signature…) says Connection: close, so Node ends the connection after it, and in stages (below).
 */
export const closeAfterUnreadBody: Middleware = async (ctx, next) => {
  await next();
  if (!ctx.req.complete) ctx.set('Connection', 'close');
};

/** Writes what `problem` says on a raw socket, where Node has no response object (clientError). */
function rawProblemResponse(problem: Problem): string {
  const requestId = randomUUID();
  const body = JSON.stringify(problemDocument(problem, undefined, requestId));
  return [
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${requestId}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

function sendProblem(res: ServerResponse, problem: Problem): void {
  const requestId = randomUUID();
  const body = JSON.stringify(problemDocument(problem, undefined, requestId));
  res.writeHead(problem.status, {
    'Content-Type': PROBLEM_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'X-Request-Id': requestId, Connection: 'close',
  });
  res.end(body);
}

/** What Node's parser refused, as the problem it is (Node's own answer is a bare status line). */
function parserProblem(code: string | undefined): Problem {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new Problem(431, 'header-fields-too-large', 'Request header fields too large', { detail: 'The request line and headers exceed the server limit.' });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new Problem(413, 'chunk-extensions-too-large', 'Chunk extensions too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new Problem(408, 'request-timeout', 'Request timeout', { detail: 'The request was not received in time.' });
    default:
      return new Problem(400, 'malformed-request', 'Malformed HTTP request', { detail: `The request cannot be parsed (${code ?? 'unknown error'}).` });
  }
}

export function createHttpServer(app: Koa, options: HttpServerOptions, logger: Logger): Server {
  const handle = app.callback();
  // The response in progress on each connection: one whose headers are out must not get a second.
  const inProgress = new WeakMap<Socket, ServerResponse>();
  const closing = new WeakSet<Socket>();

  /** Half-close now, keep reading (the parser discards), close fully when the client does or after LINGER_MS. */
  function closeInStages(socket: Socket): void {
    if (closing.has(socket)) return;
    closing.add(socket);
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', () => socket.destroy());
  }

  function track(req: IncomingMessage, res: ServerResponse): void {
    inProgress.set(req.socket, res);
    res.once('finish', () => {
      if (inProgress.get(req.socket) === res && req.complete) inProgress.delete(req.socket);
      // A body left paused (e.g. raw-body stopped at its limit) would stop the parser reading.
      if (!req.complete) req.resume();
    });
  }

  const server = createServer({
    requestTimeout: options.requestTimeoutMs,
    headersTimeout: options.headersTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // Node checks both timeouts on this interval (default 30 s, which would add up to 30 s to each).
    connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs),
    // Answered below as a problem document instead of Node's bare 400.
    requireHostHeader: false,
  }, (req, res) => {
    track(req, res);
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      sendProblem(res, new Problem(400, 'missing-host', 'Host header is missing', { detail: 'HTTP/1.1 requests must carry a Host header.' }));
      return;
    }
    void handle(req, res);
  });
  server.maxConnections = options.maxConnections;

  server.on('connection', (socket: Socket) => {
    // Node's http server ends a connection after its last response with socket.destroySoon(),
    // which closes as soon as the response is written: with the client's body still arriving
    // that is a reset. Closing in stages instead is what RFC 9112 §9.6 asks of a server.
    socket.destroySoon = () => closeInStages(socket);
  });

  // Expect other than 100-continue: Node's own answer is a bare 417.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    track(req, res);
    sendProblem(res, new Problem(417, 'expectation-failed', 'Expectation failed', { detail: 'Only "Expect: 100-continue" is supported.' }));
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const answered = inProgress.get(socket)?.headersSent ?? false;
    if (error.code === 'ECONNRESET' || !socket.writable || closing.has(socket) || answered) {
      socket.destroy();
      return;
    }
    const problem = parserProblem(error.code);
    logger.info({ code: error.code, status: problem.status }, 'client error');
    socket.write(rawProblemResponse(problem));
    closeInStages(socket);
  });
  return server;
}

/** Creates the hardened server for `app` and resolves once it listens. */
export async function listenHttp(app: Koa, options: HttpServerOptions, logger: Logger): Promise<Server> {
  const server = createHttpServer(app, options, logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
