/**
 * What stands between a client and the namespaces: admission of Engine.IO sessions (origin,
 * shutdown, capacity) and the middleware every namespace gets before its own (public id, client
 * token, event rate, metrics, debug lines).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket as EngineSocket } from 'engine.io';
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import { requireClientToken, tokenMatches } from './auth';
import { cutSession, refuseUnsafeAckIds } from './engine';
import { refuse } from './errors';
import { NAMESPACES, type ErrorReply } from './events';
import { assignPublicIds } from './identity';
import { eventRateLimiter } from './limits';
import { requestSummary, type Logger } from './logger';
import type { Metrics, PrometheusMetrics } from './metrics';
import type { ServiceOptions } from './options';

/** What admission reads of the node as it runs. */
export interface NodeState {
  closing: boolean;
  /** Connections admitted to a namespace, open now. */
  clients(): number;
}

/** How long a session may stay unadmitted to any namespace when clients need a token, in ms. */
export const TOKEN_ADMISSION_TIMEOUT_MS = 5000;

/** How long a new session may wait for its first CONNECT before it counts as idle, in ms. */
const PENDING_GRACE_MS = 1000;

/** What {@link trackAdmission} needs. */
export interface AdmissionLimits {
  maxPendingPerAddress: number;
  /** Sessions not admitted within this long are cut; 0 leaves them to Socket.IO's own timeout. */
  admissionTimeoutMs: number;
}

/** Admitted connections, open now, and a way to stop the sweep of pending ones. */
export interface AdmissionTracker {
  admitted(): number;
  stop(): void;
}

/**
 * Counts the connections admitted to a namespace (past its middleware: token, lobby id), which is
 * what `--max-connections` limits, so that sessions that never present the token cannot take the
 * slots of clients that do. Sessions not yet admitted are capped per remote address: beyond
 * `maxPendingPerAddress`, the oldest of that address is cut if it has been idle for a second (a
 * real client sends its CONNECT within milliseconds of its handshake); and with
 * `admissionTimeoutMs` they are cut once that old. Cut, not closed: a polling session that is not
 * polling would otherwise linger for engine.io's 30 s close timeout.
 */
export function trackAdmission(io: Server, { maxPendingPerAddress, admissionTimeoutMs }: AdmissionLimits): AdmissionTracker {
  let admitted = 0;
  const admittedConnections = new WeakSet<EngineSocket>();
  /** Per address, the sessions not admitted yet and when each opened, oldest first. */
  const pending = new Map<string, Map<EngineSocket, number>>();
  const stopPending = (connection: EngineSocket) => {
    const sessions = pending.get(connection.remoteAddress);
    if (!sessions?.delete(connection)) return;
    if (sessions.size === 0) pending.delete(connection.remoteAddress);
  };
  // A shared listener: the connection is `this`, so nothing is allocated per connection.
  function onClose(this: EngineSocket) {
    if (admittedConnections.has(this)) admitted -= 1;
    else stopPending(this);
  }
  io.engine.on('connection', (connection: EngineSocket) => {
    let sessions = pending.get(connection.remoteAddress);
    if (!sessions) pending.set(connection.remoteAddress, (sessions = new Map()));
    if (sessions.size >= maxPendingPerAddress) {
      // Only an idle one: a burst of real clients through one proxy must not cut each other.
      const [[oldest, opened]] = sessions;
      if (Date.now() - opened > PENDING_GRACE_MS) {
        sessions.delete(oldest);
        cutSession(oldest);
      }
    }
    sessions.set(connection, Date.now());
    // `close` comes once: a plain listener does what `once()` would, without its wrapper.
    connection.on('close', onClose);
  });
  const onAdmitted = (socket: Socket) => {
    if (admittedConnections.has(socket.conn)) return;
    admittedConnections.add(socket.conn);
    admitted += 1;
    stopPending(socket.conn);
  };
  for (const name of ['/', ...NAMESPACES]) io.of(name).on('connection', onAdmitted);

  const sweep =
    admissionTimeoutMs > 0
      ? setInterval(() => {
          const expired = Date.now() - admissionTimeoutMs;
          for (const sessions of pending.values()) {
            for (const [connection, opened] of sessions) {
              if (opened > expired) break;
              cutSession(connection);
            }
          }
        }, Math.min(1000, admissionTimeoutMs)).unref()
      : undefined;
  return { admitted: () => admitted, stop: () => clearInterval(sweep) };
}

/**
 * Checks the Origin of every Engine.IO request when `--cors-origin` restricts it: handshakes,
 * polls and POSTs of an existing session, and WebSocket upgrades. CORS headers only bind browsers
 * on polling, and a WebSocket handshake carries Origin but no preflight, so the server checks.
 * Requests without an Origin (non-browser clients) pass. Run for every request, after attach.
 */
export function checkOrigins(io: Server, options: ServiceOptions, logger: Logger): void {
  if (options.corsOrigin === '*') return;
  const origins = new Set(options.corsOrigin);
  io.engine.use((req: IncomingMessage, _res: unknown, next: (error?: Error) => void) => {
    const origin = req.headers.origin;
    if (origin === undefined || origins.has(origin)) return next();
    logger.warn({ origin, ...requestSummary(req) }, 'refused a request from an origin not allowed');
    next(new Error('origin not allowed'));
  });
}

/**
 * Decides on each new Engine.IO session, for both transports: the node refuses sessions while
 * shutting down or when it is full.
 */
export function admission(options: ServiceOptions, state: NodeState, logger: Logger): NonNullable<ServerOptions['allowRequest']> {
  let fullLogged = false;
  return (_req, callback) => {
    if (state.closing) return callback('server shutting down', false);
    if (options.maxConnections > 0 && state.clients() >= options.maxConnections) {
      if (!fullLogged) logger.warn({ limit: options.maxConnections }, 'connection limit reached: refusing new clients');
      fullLogged = true;
      return callback('server full', false);
    }
    fullLogged = false;
    callback(null, true);
  };
}

/**
 * Marks the console page's own sockets as observers: they bring the console token and
 * `auth.console: true`. An observer watches rooms without taking part: CLIENTS and the console's
 * counts leave it out.
 */
function markConsoleObservers(nsp: Namespace, consoleToken: string): void {
  nsp.use((socket, next) => {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    if (auth.console === true && tokenMatches(consoleToken, auth.token)) socket.data.observer = true;
    next();
  });
}

/** How many distinct unknown event names are remembered, and so logged, per socket. */
export const UNKNOWN_EVENTS_LOGGED = 16;

/** The longest unknown event name logged as it is; longer ones are cut. */
const EVENT_NAME_LOGGED = 64;

/**
 * Debug lines for a namespace's sockets: connect and disconnect, with the client's Engine.IO
 * protocol (3: socket.io-client 1.x/2.x and Python, 4: 4.x) and transport; and events no handler
 * listens to (`join`, `Notify`), once per socket and name, the name as a field. A client looping
 * over made-up names is remembered up to {@link UNKNOWN_EVENTS_LOGGED} names, then no longer logged.
 */
export function traceSockets(nsp: Namespace, logger: Logger): void {
  // Nothing on the path of every event and connection unless it is logged.
  if (!logger.isLevelEnabled('debug')) return;
  const seen = new WeakMap<Socket, Set<string>>();
  // Shared by every socket of the namespace: Socket.IO calls it with the socket as `this`.
  function onAny(this: Socket, event: string) {
    if (this.listenerCount(event) > 0) return;
    let names = seen.get(this);
    if (!names) seen.set(this, (names = new Set()));
    if (names.size > UNKNOWN_EVENTS_LOGGED || names.has(event)) return;
    names.add(event);
    if (names.size > UNKNOWN_EVENTS_LOGGED) {
      logger.debug({ nsp: nsp.name, socket: this.data.id, limit: UNKNOWN_EVENTS_LOGGED }, 'too many unknown events: no longer logged for this socket');
      return;
    }
    const name = event.length > EVENT_NAME_LOGGED ? `${event.slice(0, EVENT_NAME_LOGGED)}…` : event;
    logger.debug({ nsp: nsp.name, socket: this.data.id, event: name }, 'ignored an unknown event');
  }
  // `disconnect` comes once: a plain listener, shared like onAny.
  function onDisconnect(this: Socket, reason: string) {
    logger.debug({ nsp: nsp.name, socket: this.data.id, eio: this.conn.protocol, transport: this.conn.transport.name, reason }, 'disconnected');
  }
  nsp.on('connection', (socket: Socket) => {
    logger.debug({ nsp: nsp.name, socket: socket.data.id, eio: socket.conn.protocol, transport: socket.conn.transport.name }, 'connected');
    socket.onAny(onAny);
    socket.on('disconnect', onDisconnect);
  });
}

/** What {@link guardNamespaces} needs. */
export interface GuardDeps {
  options: ServiceOptions;
  /** The console's token, which its page also uses to connect when clients need a token. */
  consoleToken: string | undefined;
  logger: Logger;
  metrics: Metrics;
  prometheus?: PrometheusMetrics;
}

/**
 * Applies the guards to every namespace, before the namespaces' own middleware and handlers, and
 * to the main namespace too, which exists in every Socket.IO server whether used or not.
 */
export function guardNamespaces(io: Server, { options, consoleToken, logger, metrics, prometheus }: GuardDeps): void {
  const limitRate = eventRateLimiter({ limits: options, logger, metrics });
  for (const name of ['/', ...NAMESPACES]) {
    const nsp = io.of(name);
    assignPublicIds(nsp);
    if (consoleToken) markConsoleObservers(nsp, consoleToken);
    if (options.clientToken) requireClientToken(nsp, consoleToken ? [options.clientToken, consoleToken] : [options.clientToken], { logger, metrics });
    limitRate?.(nsp);
    refuseUnsafeAckIds(nsp, (socket, event) => {
      const refusal = refuse('bad_ack_id');
      metrics.refused(refusal.metric);
      logger.warn({ nsp: name, socket: socket.data.id, reason: refusal.code }, 'refused an event with an unusable ack id');
      const reply: ErrorReply = { event, message: refusal.message };
      socket.emit('ERROR', reply);
    });
    prometheus?.watch(nsp);
    traceSockets(nsp, logger);
  }
}
