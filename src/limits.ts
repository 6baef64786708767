import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import type { Namespace, Socket } from 'socket.io';
import type { ErrorReply } from './events';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** The limits a node enforces; each is an option (see `src/options.ts`). */
export interface Limits {
  /** Longest room, lobby, peer id or name, in characters. */
  maxIdLength: number;
  /** Most rooms one socket may be in (its own id-room not counted). */
  maxRoomsPerSocket: number;
  /** Sustained events per second per socket; 0 turns rate limiting off. */
  eventRate: number;
  /** Events a socket may send in a burst above the rate. */
  eventBurst: number;
  /** Bytes queued for one client before it is disconnected as a slow consumer. */
  maxQueuedBytes: number;
}

/** What the limiters need. */
export interface LimitDeps {
  limits: Limits;
  logger: Logger;
  metrics: Metrics;
}

/** The event name of the `ERROR` sent when a rate limit drops a socket's events. */
export const RATE_LIMITED = 'RATE_LIMIT';

/**
 * Per-socket token bucket. A socket over its rate has its events dropped, is told once per
 * streak with `ERROR`, and is disconnected when it keeps at it (strikes outgrow the forgiveness
 * an allowed event earns).
 */
export function limitEventRate(nsp: Namespace, { limits, logger, metrics }: LimitDeps): void {
  if (limits.eventRate <= 0) return;
  const capacity = Math.max(1, limits.eventBurst);
  const perMs = limits.eventRate / 1000;
  const maxStrikes = capacity * 5;
  nsp.on('connection', (socket: Socket) => {
    let tokens = capacity;
    let refilled = Date.now();
    let strikes = 0;
    let dropping = false;
    let logged = false;
    let expelled = false;
    socket.use((packet, next) => {
      // Frames already read when the socket was expelled still pass here: drop them quietly.
      if (expelled) return;
      const now = Date.now();
      tokens = Math.min(capacity, tokens + (now - refilled) * perMs);
      refilled = now;
      if (tokens >= 1) {
        tokens -= 1;
        strikes = Math.max(0, strikes - 1);
        dropping = false;
        return next();
      }
      strikes += 1;
      metrics.refused('rate_limited');
      if (!logged) {
        logged = true;
        logger.warn({ nsp: nsp.name, socket: socket.id, rate: limits.eventRate, burst: capacity }, 'rate limit: dropping events');
      }
      if (strikes > maxStrikes) {
        expelled = true;
        logger.warn({ nsp: nsp.name, socket: socket.id, event: packet[0] }, 'rate limit: disconnecting a socket that kept flooding');
        const reply: ErrorReply = { event: RATE_LIMITED, message: 'disconnected: too many events, for too long' };
        socket.emit('ERROR', reply);
        socket.disconnect(true);
        return;
      }
      if (!dropping) {
        dropping = true;
        const reply: ErrorReply = { event: RATE_LIMITED, message: `over ${limits.eventRate} events/s: events are being dropped` };
        socket.emit('ERROR', reply);
      }
    });
  });
}

/** Bytes waiting to reach one client: in engine.io's buffer and in the WebSocket's. */
function queuedBytes(socket: EngineSocket): number {
  let bytes = 0;
  for (const packet of (socket as unknown as { writeBuffer: { data?: unknown }[] }).writeBuffer) {
    const data = packet.data;
    if (typeof data === 'string' || Buffer.isBuffer(data)) bytes += data.length;
  }
  const ws = (socket.transport as unknown as { socket?: { bufferedAmount?: number } }).socket;
  return bytes + (ws?.bufferedAmount ?? 0);
}

/**
 * Disconnects clients that stop reading once more than `maxQueuedBytes` wait for them, so that
 * one stalled phone cannot grow the server's memory without bound. A sweep off the hot path:
 * between two sweeps a client can overshoot by what the room sends in that interval.
 */
export function dropSlowConsumers(engine: EngineServer, { limits, logger, metrics }: LimitDeps, intervalMs = 250): () => void {
  const timer = setInterval(() => {
    // engine.io keeps its client table protected in its typings; it is the one list there is.
    // Walked in place: with thousands of idle clients, building an array of them every sweep
    // was most of an idle node's CPU.
    const clients = (engine as unknown as { clients: Record<string, EngineSocket> }).clients;
    for (const id in clients) {
      const socket = clients[id];
      const bytes = queuedBytes(socket);
      if (bytes <= limits.maxQueuedBytes) continue;
      metrics.refused('slow_consumer');
      logger.warn({ client: id, queuedBytes: bytes, limit: limits.maxQueuedBytes }, 'slow consumer: disconnecting a client that stopped reading');
      socket.close(true);
      // A WebSocket's close handshake would wait behind the data it could not send.
      (socket.transport as unknown as { socket?: { terminate?: () => void } }).socket?.terminate?.();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
