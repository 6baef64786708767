import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import { engineSocketOf, type EngineRequest, type HandshakeRequest, type TransportInternals } from './internals';

/** `request.connection` of every plain and every TLS connection: all Socket.IO reads of it. */
const PLAIN = Object.freeze({ encrypted: false });
const ENCRYPTED = Object.freeze({ encrypted: true });

/** The fields of a request that namespaces connected later still need, copied out of it. */
export function handshakeRequest(req: EngineRequest): HandshakeRequest {
  return {
    headers: req.headers,
    url: req.url,
    method: req.method,
    _query: req._query ?? {},
    connection: (req.socket as { encrypted?: boolean } | null)?.encrypted ? ENCRYPTED : PLAIN,
  };
}

/**
 * engine.io's upgrade handler wraps the request in a `WebSocketResponse` (for HTTP middlewares)
 * that relays the TCP socket's `close` with `socket.once('close', () => this.emit('close'))`:
 * that listener keeps the response, and through it the whole request, for the life of the
 * connection. Nobody listens to that response once the handshake is done, so the relay goes.
 * Recognised by its source; a future engine.io that words it differently is left alone.
 */
const RESPONSE_CLOSE_RELAY = '() => this.emit("close")';

function dropUpgradeLeftovers(transport: TransportInternals): void {
  const ws = transport.socket;
  if (transport.name !== 'websocket' || !ws) return;
  // engine.io's handler for errors before the upgrade completes; the transport has its own now.
  for (const listener of ws.listeners('error')) if (listener.name === 'onUpgradeError') ws.removeListener('error', listener);
  const raw = ws._socket;
  if (!raw) return;
  for (const wrapper of raw.rawListeners('close')) {
    const listener = (wrapper as { listener?: (...args: unknown[]) => void }).listener;
    if (listener && listener.toString() === RESPONSE_CLOSE_RELAY) raw.removeListener('close', listener);
  }
}

/** An Engine.IO socket moving from long-polling to WebSocket: the new transport's leftovers go too. */
function onUpgrade(transport: TransportInternals): void {
  dropUpgradeLeftovers(transport);
}

/**
 * Lets each connection's HTTP request go once the Engine.IO handshake is done, keeping only
 * what Socket.IO builds `socket.handshake` from (headers, url, query, secure). engine.io
 * otherwise keeps the `IncomingMessage` (its stream state, raw header list, the response
 * wrapper of a WebSocket upgrade) for the life of the connection: about 1.4 KB each.
 *
 * Namespaces connected later, as 1.x/2.x clients do after the handshake, get the same
 * `handshake.query`, `headers`, `url` and `secure`; `socket.request` is this smaller object.
 */
export function releaseHandshakeRequests(engine: EngineServer): void {
  engine.on('connection', (socket: EngineSocket) => {
    const internals = engineSocketOf(socket);
    internals.request = handshakeRequest(internals.request as EngineRequest);
    dropUpgradeLeftovers(internals.transport);
    if (internals.transport.name !== 'websocket') socket.once('upgrade', onUpgrade);
  });
}
