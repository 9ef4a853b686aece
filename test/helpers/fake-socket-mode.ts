import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/** RFC 6455 §1.3: the server proves it read the handshake by hashing the key with this GUID. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export interface FakeSocketConnection {
  /** The path the client connected to (the `url` that apps.connections.open handed out). */
  path: string;
  /** Every text message the client sent, parsed as JSON. */
  received: unknown[];
  send(message: unknown): void;
  /** Polls (bounded) until a received message satisfies `predicate`; returns it or throws. */
  waitFor(predicate: (message: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
}

export interface FakeSocketMode {
  /** The `ws://127.0.0.1:PORT/link/...` URL for apps.connections.open. */
  url: string;
  connections: FakeSocketConnection[];
  /** Waits (bounded) until `count` clients have connected and returns the last one. */
  waitForConnection(count?: number, timeoutMs?: number): Promise<FakeSocketConnection>;
  /** Drops every open connection (the server stays up). */
  dropAll(): void;
  close(): Promise<void>;
}

/**
 * A stand-in for Slack's Socket Mode websocket endpoint on 127.0.0.1. Written by hand against
 * RFC 6455 because `ws` is not installed here (@slack/socket-mode 3 connects with undici's client).
 * It speaks only what Socket Mode needs: unfragmented text frames, ping/pong and the close
 * handshake; it greets each client with `hello` as Slack does.
 */
export async function startFakeSocketMode(): Promise<FakeSocketMode> {
  const connections: FakeSocketConnection[] = [];
  const sockets = new Set<Duplex>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('websocket only');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const conn = serveConnection(socket, req.url ?? '/');
    connections.push(conn);
    conn.send({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A1' }, debug_info: {} });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `ws://127.0.0.1:${port}/link/?ticket=fake-ticket&app_id=A1`,
    connections,
    async waitForConnection(count = 1, timeoutMs = 5000) {
      await poll(() => connections.length >= count, timeoutMs, `${count} Socket Mode connection(s)`);
      return connections[connections.length - 1]!;
    },
    dropAll() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serveConnection(socket: Duplex, path: string): FakeSocketConnection {
  const received: unknown[] = [];
  let buffered = Buffer.alloc(0);
  let closed = false;

  const write = (opcode: number, payload: Buffer) => {
    if (closed || socket.destroyed) return;
    socket.write(Buffer.concat([frameHeader(opcode, payload.length), payload]));
  };

  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const frame = readFrame(buffered);
      if (!frame) return;
      buffered = buffered.subarray(frame.size);
      if (frame.opcode === OP_TEXT) received.push(JSON.parse(frame.payload.toString('utf8')));
      else if (frame.opcode === OP_PING) write(OP_PONG, frame.payload);
      else if (frame.opcode === OP_CLOSE) {
        // Echo the close so the client finishes its handshake at once instead of timing out.
        write(OP_CLOSE, frame.payload.subarray(0, 2));
        closed = true;
        socket.end();
        return;
      }
    }
  });

  return {
    path,
    received,
    send: (message) => write(OP_TEXT, Buffer.from(JSON.stringify(message), 'utf8')),
    async waitFor(predicate, timeoutMs = 5000) {
      await poll(() => received.some(predicate), timeoutMs, 'a matching Socket Mode message');
      return received.find(predicate);
    },
  };
}

/** Server frames are unmasked and unfragmented (FIN set). */
function frameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 0x10000) {
    const h = Buffer.alloc(4);
    h[0] = 0x80 | opcode;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/** One whole client frame from the front of `buf`, or null when more bytes are needed. */
function readFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (buf.length < 2) return null;
  const opcode = buf[0]! & 0x0f;
  const masked = (buf[1]! & 0x80) !== 0;
  let length = buf[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return null;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return null;
    length = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskLength = masked ? 4 : 0;
  if (buf.length < offset + maskLength + length) return null;
  const mask = buf.subarray(offset, offset + maskLength);
  const payload = Buffer.from(buf.subarray(offset + maskLength, offset + maskLength + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
  return { opcode, payload, size: offset + maskLength + length };
}

async function poll(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`fake Socket Mode: no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
