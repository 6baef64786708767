import type { Socket as EngineSocket } from 'engine.io';
import type { Namespace, Server, Socket } from 'socket.io';
import { cutSession, forEachSessionWithData, noteWrittenSessions } from './engine';
import { refuse } from './errors';
import { NAMESPACES, type ErrorReply } from './events';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** The limits a node enforces; each is an option (see `src/options.ts`). */
export interface Limits {
  /** Longest room, lobby, peer id or name, in characters. */
  maxIdLength: number;
  /** Most rooms one socket may be in (its own id-room not counted). */
  maxRoomsPerSocket: number;
  /** Sustained events per second per connection; 0 turns rate limiting off. */
  eventRate: number;
  /** Events a connection may send in a burst above the rate. */
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

/** One Engine.IO connection's token bucket, shared by all its namespace sockets. */
interface Bucket {
  tokens: number;
  refilled: number;
  strikes: number;
  dropping: boolean;
  logged: boolean;
  expelled: boolean;
}

/**
 * Token buckets keyed on the Engine.IO connection, so that leaving and re-entering a namespace
 * (`41/nsp,` then `40/nsp,`) does not refill them; namespace CONNECTs are charged too. A connection
 * over its rate has its events dropped, is told once per streak with `ERROR`, and is disconnected
 * when it keeps at it (strikes outgrow the forgiveness an allowed event earns).
 * @returns the guard to install on each namespace, or undefined when rate limiting is off.
 */
export function eventRateLimiter({ limits, logger, metrics }: LimitDeps): ((nsp: Namespace) => void) | undefined {
  if (limits.eventRate <= 0) return undefined;
  const capacity = Math.max(1, limits.eventBurst);
  const perMs = limits.eventRate / 1000;
  const maxStrikes = capacity * 5;
  const buckets = new WeakMap<EngineSocket, Bucket>();

  /** Takes a token for one packet of `socket`'s connection: true when it may pass. */
  const take = (socket: Socket): boolean => {
    let bucket = buckets.get(socket.conn);
    const now = Date.now();
    if (!bucket) {
      bucket = { tokens: capacity, refilled: now, strikes: 0, dropping: false, logged: false, expelled: false };
      buckets.set(socket.conn, bucket);
    }
    // Frames already read when the connection was expelled still pass here: drop them quietly.
    if (bucket.expelled) return false;
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.refilled) * perMs);
    bucket.refilled = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.strikes = Math.max(0, bucket.strikes - 1);
      bucket.dropping = false;
      return true;
    }
    bucket.strikes += 1;
    metrics.refused('rate_limited');
    const context = { socket: socket.data.id, rate: limits.eventRate, burst: capacity };
    if (!bucket.logged) {
      bucket.logged = true;
      logger.warn(context, 'rate limit: dropping events');
    }
    if (bucket.strikes > maxStrikes) {
      bucket.expelled = true;
      logger.warn(context, 'rate limit: disconnecting a connection that kept flooding');
      const reply: ErrorReply = { event: RATE_LIMITED, message: refuse('rate_expelled').message };
      if (socket.connected) socket.emit('ERROR', reply);
      socket.disconnect(true);
      return false;
    }
    if (!bucket.dropping && socket.connected) {
      bucket.dropping = true;
      const reply: ErrorReply = { event: RATE_LIMITED, message: refuse('rate_limited', limits.eventRate).message };
      socket.emit('ERROR', reply);
    }
    return false;
  };

  return (nsp) => {
    nsp.use((socket, next) => {
      if (take(socket)) return next();
      next(refuse('rate_limited', limits.eventRate));
    });
    nsp.on('connection', (socket: Socket) => {
      socket.use((_packet, next) => {
        if (take(socket)) next();
      });
    });
  };
}

/**
 * Disconnects clients that stop reading once more than `maxQueuedBytes` wait for them, so that
 * one stalled phone cannot grow the server's memory without bound. A sweep off the hot path:
 * between two sweeps a client can overshoot by what the room sends in that interval. It visits
 * only the sessions written to since the last sweep or still holding data then, so that thousands
 * of idle connections cost it nothing.
 *
 * Long-polling clients too: what waits for them includes the answers to their polls that they
 * may not have read, so one that polls on a new connection each time and reads nothing is
 * disconnected like a stalled WebSocket, and the connections holding its answers are reset.
 */
export function dropSlowConsumers(io: Server, { limits, logger, metrics }: LimitDeps, intervalMs = 250): () => void {
  noteWrittenSessions(io.engine);
  const timer = setInterval(() => {
    forEachSessionWithData(io.engine, (socket, bytes) => {
      if (bytes <= limits.maxQueuedBytes) return;
      metrics.refused('slow_consumer');
      logger.warn({ sockets: publicIdsOf(io, socket), queuedBytes: bytes, limit: limits.maxQueuedBytes }, 'slow consumer: disconnecting a client that stopped reading');
      cutSession(socket);
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The public ids of a connection's namespace sockets, for the log: found by a walk of the
 * namespaces, which only a rare event such as a slow consumer can afford.
 */
function publicIdsOf(io: Server, connection: EngineSocket): string[] {
  const ids: string[] = [];
  for (const name of NAMESPACES) {
    for (const socket of io.of(name).sockets.values()) if (socket.conn === connection) ids.push(socket.data.id);
  }
  return ids;
}
