import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import { resetConnection } from './connection';
import { engineServerOf, engineSocketOf, type EngineSocketInternals } from './internals';
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
 * Starts noting which sessions of `engine` are written to (see {@link noteWritten}), for
 * {@link forEachSessionWithData}.
 */
export function noteWrittenSessions(engine: EngineServer): void {
  engineServerOf(engine).writtenSessions ??= new Set();
}

/**
 * Called for every packet engine.io is given for a session (coalesce.ts's flush stands in for
 * engine.io's on every session, and runs on each packet): the session may now hold data.
 */
export function noteWritten(socket: EngineSocketInternals): void {
  socket.server.writtenSessions?.add(socket);
}

/**
 * Calls `visit` with the queued bytes of each session that may hold data: those written to
 * since the last call, and those that still held some then. The rest hold nothing (their last
 * reading was 0 and nothing was written since), so an idle node visits none of its sessions.
 * Needs {@link noteWrittenSessions} first.
 */
export function forEachSessionWithData(engine: EngineServer, visit: (socket: EngineSocket, bytes: number) => void): void {
  const written = engineServerOf(engine).writtenSessions;
  if (!written || written.size === 0) return;
  for (const socket of [...written]) {
    if (socket.readyState === 'closed') {
      written.delete(socket);
      continue;
    }
    const session = socket as unknown as EngineSocket;
    const bytes = queuedBytes(session);
    if (bytes === 0) written.delete(socket);
    visit(session, bytes);
  }
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
