import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import { engineServerOf, engineSocketOf } from './internals';

/**
 * Bytes waiting to reach one client: in engine.io's write buffer and in the WebSocket's. Only data
 * counts: the pongs that pile up for a client that sends, pings and never polls carry none, so a
 * send-only client is never taken for a slow consumer.
 */
export function queuedBytes(socket: EngineSocket): number {
  const internals = engineSocketOf(socket);
  let bytes = 0;
  for (const packet of internals.writeBuffer) {
    const data = packet.data;
    if (typeof data === 'string' || Buffer.isBuffer(data)) bytes += data.length;
  }
  return bytes + (internals.transport.socket?.bufferedAmount ?? 0);
}

/**
 * Calls `visit` for every Engine.IO session of the server. engine.io's client table is protected
 * in its typings, and it is the one list there is; it is walked in place, since building an array
 * of thousands of idle sessions on every sweep was most of an idle node's CPU.
 */
export function forEachSession(engine: EngineServer, visit: (socket: EngineSocket, id: string) => void): void {
  const clients = engineServerOf(engine).clients;
  for (const id in clients) visit(clients[id], id);
}

/**
 * Closes a session at once, dropping what waits for it. A WebSocket's close handshake would wait
 * behind the data it could not send, so its TCP connection is cut as well.
 */
export function cutSession(socket: EngineSocket): void {
  const internals = engineSocketOf(socket);
  internals.close(true);
  internals.transport.socket?.terminate?.();
}
