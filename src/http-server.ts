/**
 * The node's HTTP side as a transport: http or https chosen once (the PEM files read once), one
 * listen helper, a write timeout on every connection, and a graceful close that keeps its deadline.
 */
import fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket as NetSocket } from 'node:net';
import { resetConnection } from './engine';
import type { Logger } from './logger';

/** TLS key and certificate, PEM-encoded. */
export interface TlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
}

/** An HTTP or HTTPS server that knows every TCP connection it accepted. */
export interface HttpServer {
  server: http.Server | https.Server;
  /** Destroys every connection still open, upgraded WebSockets included. */
  destroyConnections(): void;
}

/** How the connections of an {@link HttpServer} are watched. */
export interface ConnectionPolicy {
  /** Longest a connection may hold unsent data of which its peer takes nothing, in ms. */
  writeTimeout: number;
  logger: Logger;
}

/**
 * The sockets `server` announces with `event`, each until it closes. The listener that forgets a
 * socket is one function for all (the socket is its `this`), and `close` comes once, so nothing
 * is allocated per connection beyond the set's entry.
 */
function tracked(server: http.Server, event: 'connection' | 'secureConnection'): Set<NetSocket> {
  const sockets = new Set<NetSocket>();
  function forget(this: NetSocket) {
    sockets.delete(this);
  }
  server.on(event, (socket: NetSocket) => {
    sockets.add(socket);
    socket.on('close', forget);
  });
  return sockets;
}

/**
 * Builds the server for `handler`: HTTPS with `tls` (or the key and certificate read from the
 * given files) when `secure`, plain HTTP otherwise. A connection holding data that its peer has
 * taken none of for `writeTimeout` is reset (see {@link watchWrites}).
 */
export function createHttpServer(
  handler: http.RequestListener,
  secure: { tls?: TlsMaterial; key: string; cert: string } | undefined,
  policy: ConnectionPolicy,
): HttpServer {
  const server = secure
    ? https.createServer(secure.tls ?? { key: fs.readFileSync(secure.key), cert: fs.readFileSync(secure.cert) }, handler)
    : http.createServer(handler);
  // Node's own closeAllConnections() leaves out connections upgraded to WebSocket, and one whose
  // peer never answers the close handshake would hold a shutdown for ws's 30 s close timeout.
  const sockets = tracked(server, 'connection');
  // Over TLS, what is written goes to the TLS socket: that is where unsent data shows.
  const writers = secure ? tracked(server, 'secureConnection') : sockets;
  watchWrites(server, writers, policy);
  return {
    server,
    destroyConnections() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * Resets connections that hold unsent data and make no progress with it for `writeTimeout` ms: a
 * peer that stopped reading (a long-polling client that never reads its answers, a stalled
 * WebSocket) would otherwise keep Node's buffer and the kernel's send queue for as long as the
 * connection lives, which nothing else bounds. Progress is a completed write; a sweep notices it,
 * at a quarter of the timeout (at most every second), so a connection is cut at most that late.
 */
function watchWrites(server: http.Server, writers: Set<NetSocket>, { writeTimeout, logger }: ConnectionPolicy): void {
  /** Connections seen holding unsent data: bytes they had flushed then, and since when that stands. */
  const stalled = new Map<NetSocket, { flushed: number; since: number }>();
  const timer = setInterval(
    () => {
      const now = Date.now();
      for (const socket of stalled.keys()) if (!writers.has(socket)) stalled.delete(socket);
      for (const socket of writers) {
        const pending = socket.writableLength;
        if (pending === 0) {
          stalled.delete(socket);
          continue;
        }
        const flushed = socket.bytesWritten - pending;
        const seen = stalled.get(socket);
        if (!seen || seen.flushed !== flushed) {
          stalled.set(socket, { flushed, since: now });
        } else if (now - seen.since >= writeTimeout) {
          stalled.delete(socket);
          logger.warn({ pendingBytes: pending, writeTimeoutMs: writeTimeout }, 'write timeout: resetting a connection whose peer takes none of its data');
          resetConnection(socket);
        }
      }
    },
    Math.min(1000, writeTimeout / 4),
  );
  timer.unref();
  server.once('close', () => clearInterval(timer));
}

/** Listens on `port` and `host`; resolves with the bound address, rejects (and cleans up) on error. */
export function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Closes `http` within `graceMs`: `stop()` closes what runs on it (Socket.IO, which tells its
 * clients), in-flight requests may finish, idle keep-alive connections are swept as they turn
 * idle, and whatever is still open at the deadline is destroyed, so the close never takes longer.
 */
export async function closeGracefully(http: HttpServer, graceMs: number, stop: () => Promise<void>): Promise<void> {
  const { server } = http;
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const deadline = setTimeout(() => {
    server.closeAllConnections();
    http.destroyConnections();
  }, graceMs);
  try {
    await stop();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}
