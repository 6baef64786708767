/**
 * The node's HTTP side as a transport: http or https chosen once (the PEM files read once), one
 * listen helper, and a graceful close that keeps its deadline.
 */
import fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket as NetSocket } from 'node:net';

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

/**
 * Builds the server for `handler`: HTTPS with `tls` (or the key and certificate read from the
 * given files) when `secure`, plain HTTP otherwise.
 */
export function createHttpServer(handler: http.RequestListener, secure: { tls?: TlsMaterial; key: string; cert: string } | undefined): HttpServer {
  const server = secure
    ? https.createServer(secure.tls ?? { key: fs.readFileSync(secure.key), cert: fs.readFileSync(secure.cert) }, handler)
    : http.createServer(handler);
  // Node's own closeAllConnections() leaves out connections upgraded to WebSocket, and one whose
  // peer never answers the close handshake would hold a shutdown for ws's 30 s close timeout.
  const sockets = new Set<NetSocket>();
  server.on('connection', (socket: NetSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    server,
    destroyConnections() {
      for (const socket of sockets) socket.destroy();
    },
  };
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
