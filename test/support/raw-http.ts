// HTTP/1.1 by hand over a TCP socket, for requests no HTTP client would send (bad framing, lying
// Content-Length, bodies that never end) and to see exactly how the server ends a connection.
import { connect, type Socket } from 'node:net';

export type RawResponse = { status: number; headers: Record<string, string>; body: string };
export type RawExchange = {
  /** The first complete response, or null when the connection ended without one. */
  response: RawResponse | null;
  /** How the connection ended before a complete response arrived (ECONNRESET, EPIPE…), if it did. */
  error: string | undefined;
};

function parse(buffer: Buffer, bodiless: boolean): RawResponse | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers = Object.fromEntries(lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  }));
  // A response to HEAD has no body, whatever its Content-Length says (RFC 9110 §9.3.2).
  const length = bodiless ? 0 : Number(headers['content-length'] ?? 0);
  // A 1xx (100 Continue) is not the response: skip it.
  if (status >= 100 && status < 200) return parse(buffer.subarray(end + 4), bodiless);
  if (buffer.length < end + 4 + length) return null;
  return { status, headers, body: buffer.subarray(end + 4, end + 4 + length).toString('utf8') };
}

/**
 * Connects to `url`'s host and port, lets `send` write whatever it likes (and keep writing), and
 * resolves with the first complete response or with how the connection ended without one
 * (`head`: the request was a HEAD, so the response has no body).
 */
export function rawExchange(
  url: string, send: (socket: Socket) => void, options: { timeoutMs?: number; head?: boolean } = {},
): Promise<RawExchange> {
  const { timeoutMs = 30_000, head = false } = options;
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const response = parse(received, head);
      socket.destroy();
      resolve({ response, error: response ? undefined : error });
    };
    const timer = setTimeout(() => finish('client timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (parse(received, head)) finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
    socket.on('close', () => finish('closed'));
    socket.on('connect', () => send(socket));
  });
}

/** Writes `chunk` over and over for as long as the socket takes it (a body that never ends). */
export function keepSending(socket: Socket, chunk: Buffer = Buffer.alloc(16 * 1024, 0x61)): void {
  const pump = () => {
    while (!socket.destroyed && socket.writable) {
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/**
 * A client that writes `bytes` of body before it reads anything (as simple clients do): the
 * response it then reads was sent long before, so a server that closed with this input unread
 * has reset the connection and the response is gone.
 */
export function sendBeforeReading(socket: Socket, bytes: number, chunk: Buffer = Buffer.alloc(64 * 1024, 0x61)): void {
  socket.pause();
  let sent = 0;
  const pump = () => {
    while (sent < bytes && !socket.destroyed) {
      sent += chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.resume();
  };
  socket.once('error', () => socket.resume());
  pump();
}

/** Resolves when the server closes `socket`'s connection (or it errors). */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => resolve());
  });
}
