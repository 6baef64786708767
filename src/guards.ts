/**
 * What stands between a client and the namespaces: admission of Engine.IO sessions (origin,
 * shutdown, capacity) and the middleware every namespace gets before its own (public id, client
 * token, event rate, metrics).
 */
import type { Server, ServerOptions } from 'socket.io';
import { requireClientToken } from './auth';
import { NAMESPACES } from './events';
import { assignPublicIds } from './identity';
import { eventRateLimiter } from './limits';
import type { Logger } from './logger';
import type { Metrics, PrometheusMetrics } from './metrics';
import type { ServiceOptions } from './options';

/** What admission reads of the node as it runs. */
export interface NodeState {
  closing: boolean;
  /** Engine.IO sessions open now. */
  clients(): number;
}

/**
 * Decides on each new Engine.IO session, for both transports: CORS headers only bind browsers on
 * polling, and a WebSocket handshake carries Origin but no preflight, so origins are checked
 * here. The node also refuses sessions while shutting down or when it is full.
 */
export function admission(options: ServiceOptions, state: NodeState, logger: Logger): NonNullable<ServerOptions['allowRequest']> {
  const origins = options.corsOrigin === '*' ? undefined : new Set(options.corsOrigin);
  let fullLogged = false;
  return (req, callback) => {
    const origin = req.headers.origin;
    if (origins && origin !== undefined && !origins.has(origin)) return callback('origin not allowed', false);
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

/** What {@link guardNamespaces} needs. */
export interface GuardDeps {
  options: ServiceOptions;
  logger: Logger;
  metrics: Metrics;
  prometheus?: PrometheusMetrics;
}

/**
 * Applies the guards to every namespace, before the namespaces' own middleware and handlers, and
 * to the main namespace too, which exists in every Socket.IO server whether used or not.
 */
export function guardNamespaces(io: Server, { options, logger, metrics, prometheus }: GuardDeps): void {
  const limitRate = eventRateLimiter({ limits: options, logger, metrics });
  for (const name of ['/', ...NAMESPACES]) {
    const nsp = io.of(name);
    assignPublicIds(nsp);
    if (options.clientToken) requireClientToken(nsp, options.clientToken, { logger, metrics });
    limitRate?.(nsp);
    prometheus?.watch(nsp);
  }
}
