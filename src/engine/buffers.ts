import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import { resetConnection } from './connection';
import { engineServerOf, engineSocketOf } from './internals';
import { unreadAnswers } from './polling';

/**
 * Bytes waiting to reach one client: in engine.io's write buffer, in the WebSocket's, and in the
 * answers to its polls that it may not have read (see {@link unreadAnswers}). Only data counts:
 * the pongs that pile up for a client that sends, pings and never polls carry none, so a
 * send-only client is never taken for a slow consumer.
 */
export function queuedBytes(socket: EngineSocket): number {
  const internals = engineSocketOf(socket);
  let bytes = 0;
  for (const packet of internals.writeBuffer) {
    const data = packet.data;
    if (typeof data === 'string' || Buffer.isBuffer(data)) bytes += data.length;
  }
  for (const answer of unreadAnswers(socket)) bytes += answer.length;
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
 * behind the data it could not send, so its TCP connection is reset as well, and so are the
 * connections that may still hold answers to its polls: the kernel drops their send queues.
 */
export function cutSession(socket: EngineSocket): void {
  const internals = engineSocketOf(socket);
  const answers = [...unreadAnswers(socket)];
  const ws = internals.transport.socket;
  internals.close(true);
  if (ws?._socket) resetConnection(ws._socket);
  ws?.terminate?.();
  for (const { connection } of answers) resetConnection(connection);
}
