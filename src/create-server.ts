import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import pino from 'pino';
import { Server } from 'socket.io';
import { connectCluster, type Readiness, type RedisLink } from './cluster';
import { createConsoleRouter } from './console';
import { createRecovery, hidePrivateIds, patchEngine } from './engine';
import { admission, checkOrigins, guardNamespaces, TOKEN_ADMISSION_TIMEOUT_MS, trackAdmission, type NodeState } from './guards';
import { defaultAdvertiseUrl, forwardSessions, newNodeId } from './forwarding';
import { createApp } from './http';
import { closeGracefully, createHttpServer, listen, type TlsMaterial } from './http-server';
import { dropSlowConsumers } from './limits';
import { requestSummary, type Logger } from './logger';
import { createMetrics, metricsHandler, NO_METRICS } from './metrics';
import { CLUSTER_RECOVERING_NAMESPACES, RECOVERING_NAMESPACES, registerNamespaces } from './namespaces';
import { maskUrlPassword, parseRedisTarget, resolveOptions, type ServiceOptions } from './options';
import { PACKAGE } from './package-info';

export type { TlsMaterial } from './http-server';

/** Input of {@link createServer}: any option left out takes its default. */
export type CreateServerOptions = Partial<ServiceOptions> & {
  /** With `https`, the key pair to serve; read from `key`/`cert` files when left out. */
  tls?: TlsMaterial;
};

/** What {@link createServer} needs from its host. */
export interface ServerDeps {
  /** Silent when left out. */
  logger?: Logger;
}

/** A service node, built but not yet listening. */
export interface WebsocketService {
  /** The resolved options, frozen. */
  options: Readonly<ServiceOptions>;
  app: Express;
  io: Server;
  httpServer: http.Server | https.Server;
  /** The `/metrics` listener, when `metricsPort` puts it apart from `httpServer`. */
  metricsServer?: http.Server;
  /** The token the console requires: `consoleToken`, or the one generated at start. Unset with `console: false`. */
  consoleToken: string | undefined;
  /** Starts listening on the configured host and port; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Disconnects every client and stops listening, within `shutdownGrace`. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * The start line: where clients connect, which version, alone or in a cluster (and through what,
 * any password masked), and where the console is. It never carries a token.
 */
export function startLine(options: ServiceOptions, address: AddressInfo, withConsole: boolean): { message: string; fields: Record<string, string> } {
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const host = wildcard ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.https ? 'https' : 'http'}://${host}:${address.port}`;
  const fields: Record<string, string> = { url, version: PACKAGE.version, bound: `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` };
  if (options.path !== '/socket.io') fields.path = options.path;
  if (options.redis) {
    const target = parseRedisTarget(options.redis);
    fields.mode = 'cluster';
    fields.redisMode = options.redisMode;
    fields.redis = 'service' in target ? `Consul service ${target.service} at ${options.consulHost}` : `Redis ${maskUrlPassword(options.redis)}`;
  } else {
    fields.mode = 'single node';
  }
  if (withConsole) fields.console = `${url}/console/`;
  const where = wildcard ? `${url} (every ${address.address === '::' ? '' : 'IPv4 '}interface)` : url;
  const message =
    `websocket-service ${PACKAGE.version} listening on ${where}` +
    (fields.path ? `, Socket.IO path ${fields.path}` : '') +
    (fields.redis ? `, cluster through ${fields.redis} (${options.redisMode})` : ', single node') +
    (fields.console ? `; console ${fields.console}` : '');
  return { message, fields };
}

/**
 * Builds a websocket-service node: the Express app, Socket.IO with the four namespaces, and the
 * HTTP(S) server they share. The recipe: options → io → guards → namespaces → app → transport.
 * @throws {OptionError} when an option is invalid.
 * @example
 * ```ts
 * import { createServer } from 'websocket-service';
 * const service = createServer({ port: 3000, redis: 'redis:6379' }, { logger });
 * const { port } = await service.listen();
 * process.once('SIGTERM', () => service.close());
 * ```
 */
export function createServer(input: CreateServerOptions = {}, deps: ServerDeps = {}): WebsocketService {
  const { tls, ...rest } = input;
  const options = resolveOptions(rest);
  const logger = deps.logger ?? pino({ level: 'silent' });
  const generatedToken = options.console && !options.consoleToken ? randomBytes(18).toString('base64url') : undefined;
  const consoleToken = options.console ? (options.consoleToken ?? generatedToken) : undefined;
  let redis: RedisLink | undefined;
  const state: NodeState = { closing: false, clients: () => 0 };
  const readiness = (): Readiness => {
    if (state.closing) return { ready: false, reason: 'shutting down' };
    if (!options.redis) return { ready: true };
    if (!redis) return { ready: false, reason: 'Redis not linked yet' };
    const link = redis.readiness();
    if (link.ready && !forwarding?.ready()) return { ready: false, reason: 'not registered in Redis for request relaying yet' };
    return link;
  };

  // The pub/sub adapters keep no sessions: recovery is then a single node's. The streams adapter
  // keeps them in Redis, for every node.
  const recovery =
    options.recoveryWindow > 0 && !options.redis
      ? createRecovery({
          windowMs: options.recoveryWindow,
          sessionBytes: options.recoverySessionBytes,
          totalBytes: options.recoveryTotalBytes,
          namespaces: RECOVERING_NAMESPACES,
        })
      : undefined;
  const clusterRecovering = options.recoveryWindow > 0 && options.redis && options.redisMode === 'streams' ? CLUSTER_RECOVERING_NAMESPACES : [];
  const io: Server = new Server({
    ...(recovery && { connectionStateRecovery: recovery.serverOption, adapter: recovery.adapter }),
    // Middlewares run again on a recovered socket, as on one node: the client token and rate limits still apply.
    ...(clusterRecovering.length > 0 && { connectionStateRecovery: { maxDisconnectionDuration: options.recoveryWindow, skipMiddlewares: false } }),
    path: options.path,
    allowEIO3: true,
    maxHttpBufferSize: options.maxHttpBufferSize,
    cors: { origin: options.corsOrigin === '*' ? true : [...options.corsOrigin], credentials: true },
    allowRequest: admission(options, state, logger),
  });
  const prometheus = options.metrics
    ? createMetrics(io, readiness, options.redis ? { lostPublishes: () => redis?.lostPublishes() ?? 0 } : undefined, recovery?.stats)
    : undefined;
  const metrics = prometheus ?? NO_METRICS;
  guardNamespaces(io, { options, consoleToken, logger, metrics, prometheus });
  const bus = registerNamespaces(io, { logger, limits: options, metrics });
  recovery?.hidePrivateIds(io);
  if (clusterRecovering.length > 0) hidePrivateIds(io, clusterRecovering);

  const serveMetrics = prometheus && metricsHandler(prometheus.registry);
  const app = createApp({
    logger,
    metrics,
    serveMetrics: options.metricsPort === 0 ? serveMetrics : undefined,
    bus,
    readiness,
    maxPublishBody: options.maxPublishBody,
    maxIdLength: options.maxIdLength,
    publishToken: options.publishToken,
    corsOrigin: options.corsOrigin,
    socketPath: options.path,
    console: consoleToken ? createConsoleRouter({ io, socketPath: options.path, token: consoleToken, logger: logger.child({ component: 'console' }) }) : undefined,
  });

  const policy = { writeTimeout: options.writeTimeout, logger };
  const transport = createHttpServer(app, options.https ? { tls, key: options.key, cert: options.cert } : undefined, policy);
  io.attach(transport.server);
  patchEngine(io, { answerTimeout: options.writeTimeout });
  // In a cluster, a request for another node's session is relayed there: clients need no sticky cookie.
  const forwarding = options.redis
    ? forwardSessions({
        io,
        nodeId: newNodeId(),
        redis: () => redis!.commands(),
        logger: logger.child({ component: 'forwarding' }),
        metrics,
        maxBody: options.maxHttpBufferSize,
        // Longer than any poll the holding node keeps open, or any silence of a live WebSocket
        // (engine.io has filled in its defaults by now).
        idleMs: io.engine.opts.pingInterval! + io.engine.opts.pingTimeout!,
      })
    : undefined;
  // With a token required, sessions that never get into a namespace are capped and cut soon;
  // without one, every session is admitted at its first CONNECT anyway.
  const admission_ = trackAdmission(io, {
    maxPendingPerAddress: options.clientToken ? options.maxPendingPerAddress : Infinity,
    admissionTimeoutMs: options.clientToken ? TOKEN_ADMISSION_TIMEOUT_MS : 0,
  });
  state.clients = admission_.admitted;
  checkOrigins(io, options, logger);
  io.engine.on('connection_error', (error: { code: number; message: string; req: http.IncomingMessage }) => {
    logger.warn({ code: error.code, reason: error.message, ...requestSummary(error.req) }, 'refused Engine.IO connection');
  });
  const stopSweeping = dropSlowConsumers(io, { logger, limits: options, metrics });
  // A separate port keeps /metrics off the public listener when the operator wants that.
  const metricsServer = serveMetrics && options.metricsPort > 0 ? createHttpServer(express().get('/metrics', serveMetrics), undefined, policy) : undefined;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      state.closing = true;
      stopSweeping();
      admission_.stop();
      logger.info({ clients: io.engine.clientsCount, graceMs: options.shutdownGrace }, 'Shutting down: closing client connections');
      const withdrawn = forwarding?.close();
      // Clients see their transport close and reconnect, to another node behind the proxy.
      await closeGracefully(transport, options.shutdownGrace, () => io.close());
      await withdrawn;
      await redis?.close();
      if (metricsServer) await closeGracefully(metricsServer, 0, async () => {});
      logger.info('Closed');
    })();
    return closing;
  };

  return {
    options,
    app,
    io,
    httpServer: transport.server,
    metricsServer: metricsServer?.server,
    consoleToken,
    async listen() {
      if (options.redis && !redis) redis = await connectCluster(io, options, logger.child({ component: 'cluster' }), clusterRecovering);
      if (metricsServer && !metricsServer.server.listening) {
        await listen(metricsServer.server, options.metricsPort, options.host);
        logger.info({ port: options.metricsPort }, 'Serving /metrics on a separate port');
      }
      const address = await listen(transport.server, options.port, options.host);
      forwarding?.advertise(options.advertiseUrl ?? defaultAdvertiseUrl(options.https, address));
      const start = startLine(options, address, Boolean(consoleToken));
      logger.info(start.fields, start.message);
      // A developer's one-click console; an operator sets --console-token and nothing is logged.
      if (generatedToken) {
        logger.info({ url: `${start.fields.console}?token=${generatedToken}` }, 'Console token generated for this run (set --console-token to choose one)');
      }
      return address;
    },
    close,
  };
}
