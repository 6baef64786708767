import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import pino from 'pino';
import { Server, type ServerOptions } from 'socket.io';
import { linkThroughRedis, lookupConsulService, parseRedisTarget, type Readiness, type RedisLink } from './cluster';
import { requireClientToken } from './auth';
import { dropSlowConsumers, limitEventRate, type Limits } from './limits';
import { createMetrics, metricsHandler, NO_METRICS, type Metrics } from './metrics';
import { createConsoleRouter } from './console';
import { useLegacyPollingFraming } from './eio3';
import { tuneServer } from './tuning';
import { createApp } from './http';
import type { Logger } from './logger';
import { registerBus } from './namespaces/bus';
import { registerLayout } from './namespaces/layout';
import { registerLobby } from './namespaces/lobby';
import { registerTrigger } from './namespaces/trigger';
import { resolveOptions, type ServiceOptions } from './options';

/** TLS key and certificate, PEM-encoded. */
export interface TlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
}

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
  options: ServiceOptions;
  app: Express;
  io: Server;
  httpServer: http.Server | https.Server;
  /** The `/metrics` listener, when `metricsPort` puts it apart from `httpServer`. */
  metricsServer?: http.Server;
  /** Starts listening on the configured host and port; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Disconnects every client and stops listening. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Decides on each new Engine.IO session, for both transports: CORS headers only bind browsers on
 * polling, and a WebSocket handshake carries Origin but no preflight, so origins are checked
 * here. The node also refuses sessions while shutting down or when it is full.
 */
function admission(options: ServiceOptions, state: { closing: boolean; clients: () => number }, logger: Logger): NonNullable<ServerOptions['allowRequest']> {
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

/**
 * Builds a websocket-service node: the Express app, Socket.IO with the four namespaces, and the
 * HTTP(S) server they share.
 * @throws {OptionError} when an option is invalid.
 */
export function createServer(input: CreateServerOptions = {}, deps: ServerDeps = {}): WebsocketService {
  const { tls, ...rest } = input;
  const options = resolveOptions(rest);
  const logger = deps.logger ?? pino({ level: 'silent' });

  const state = { closing: false, clients: () => io.engine.clientsCount };
  const io: Server = new Server({
    path: options.path,
    allowEIO3: true,
    maxHttpBufferSize: options.maxHttpBufferSize,
    cors: { origin: options.corsOrigin === '*' ? true : options.corsOrigin, credentials: true },
    allowRequest: admission(options, state, logger),
  });
  let redis: RedisLink | undefined;
  const readiness = (): Readiness => {
    if (state.closing) return { ready: false, reason: 'shutting down' };
    if (!options.redis) return { ready: true };
    return redis ? redis.readiness() : { ready: false, reason: 'Redis not linked yet' };
  };

  const prometheus = options.metrics ? createMetrics(io, readiness, Boolean(options.redis)) : undefined;
  const metrics: Metrics = prometheus ?? NO_METRICS;
  const limits: Limits = options;
  const handlerDeps = { logger, limits, metrics };
  // Applied before the namespaces' own middleware and handlers, and to the main namespace too,
  // which exists in every Socket.IO server whether used or not.
  for (const name of ['/', '/layout', '/bus', '/lobby', '/trigger']) {
    const nsp = io.of(name);
    if (options.clientToken) requireClientToken(nsp, options.clientToken, handlerDeps);
    limitEventRate(nsp, handlerDeps);
    prometheus?.watch(nsp);
  }
  registerLayout(io, handlerDeps);
  const bus = registerBus(io, handlerDeps);
  registerLobby(io, handlerDeps);
  registerTrigger(io, handlerDeps);

  const serveMetrics = prometheus && metricsHandler(prometheus.registry);
  const app = createApp({
    logger,
    metrics,
    serveMetrics: options.metricsPort === 0 ? serveMetrics : undefined,
    bus,
    readiness,
    maxPublishBody: options.maxPublishBody,
    publishToken: options.publishToken,
    console: options.console ? createConsoleRouter({ io, socketPath: options.path, clientToken: options.clientToken, logger }) : undefined,
  });
  const httpServer = options.https
    ? https.createServer(tls ?? { key: fs.readFileSync(options.key), cert: fs.readFileSync(options.cert) }, app)
    : http.createServer(app);
  io.attach(httpServer);
  useLegacyPollingFraming(io.engine);
  tuneServer(io);

  io.engine.on('connection_error', (error: { code: number; message: string; req: http.IncomingMessage }) => {
    logger.warn({ code: error.code, reason: error.message, url: error.req.url }, 'refused Engine.IO connection');
  });

  // A separate port keeps /metrics off the public listener when the operator wants that.
  const metricsServer = serveMetrics && options.metricsPort > 0 ? http.createServer(express().get('/metrics', serveMetrics)) : undefined;

  const stopSweeping = dropSlowConsumers(io.engine, handlerDeps);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      state.closing = true;
      stopSweeping();
      logger.info({ clients: io.engine.clientsCount, graceMs: options.shutdownGrace }, 'Shutting down: closing client connections');
      // In-flight HTTP requests may finish within the grace period. Idle keep-alive connections
      // would only hold the close up: a connection turns idle when its last request is
      // answered, so idle ones are swept until the server is closed. What is still open at the
      // deadline is cut.
      httpServer.closeIdleConnections();
      const sweep = setInterval(() => httpServer.closeIdleConnections(), 50);
      const deadline = setTimeout(() => httpServer.closeAllConnections(), options.shutdownGrace);
      // Clients see their transport close and reconnect, to another node behind the proxy.
      await io.close();
      clearInterval(sweep);
      clearTimeout(deadline);
      await redis?.close();
      if (metricsServer?.listening) await new Promise((resolve) => metricsServer.close(resolve));
      logger.info('Closed');
    })();
    return closing;
  };

  const linkCluster = async (address: string) => {
    let target = parseRedisTarget(address);
    if ('service' in target) {
      target = await lookupConsulService(options.consulHost, target.service);
      logger.info({ service: address, host: target.host, port: target.port }, 'Found Redis in Consul');
    }
    redis = linkThroughRedis(io, target, options.database, logger);
  };

  const listen = async () => {
    if (options.redis && !redis) await linkCluster(options.redis);
    if (metricsServer && !metricsServer.listening) {
      await new Promise<void>((resolve, reject) => {
        metricsServer.once('error', reject).listen(options.metricsPort, options.host, () => resolve());
      });
      logger.info({ port: options.metricsPort }, 'Serving /metrics on a separate port');
    }
    return new Promise<AddressInfo>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(options.port, options.host, () => {
        httpServer.off('error', reject);
        const address = httpServer.address() as AddressInfo;
        logger.info({ host: address.address }, `Listening on port ${options.https ? 'HTTPS' : 'HTTP'}/${address.port}`);
        resolve(address);
      });
    });
  };

  return { options, app, io, httpServer, metricsServer, listen, close };
}
