import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import pino from 'pino';
import { Server, type ServerOptions } from 'socket.io';
import { linkThroughRedis, lookupConsulService, parseRedisTarget, type Readiness, type RedisLink } from './cluster';
import { useLegacyPollingFraming } from './eio3';
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
  /** Starts listening on the configured host and port; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Disconnects every client and stops listening. Safe to call more than once. */
  close(): Promise<void>;
}

function originChecker(allowed: string[]): NonNullable<ServerOptions['allowRequest']> {
  const set = new Set(allowed);
  // CORS headers only bind browsers on polling; a WebSocket handshake carries Origin but no
  // preflight, so it is checked here for both transports.
  return (req, callback) => {
    const origin = req.headers.origin;
    if (origin === undefined || set.has(origin)) callback(null, true);
    else callback('origin not allowed', false);
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

  const io = new Server({
    path: options.path,
    allowEIO3: true,
    maxHttpBufferSize: options.maxHttpBufferSize,
    cors: { origin: options.corsOrigin === '*' ? true : options.corsOrigin, credentials: true },
    allowRequest: options.corsOrigin === '*' ? undefined : originChecker(options.corsOrigin),
  });
  const handlerDeps = { logger };
  registerLayout(io, handlerDeps);
  const bus = registerBus(io, handlerDeps);
  registerLobby(io, handlerDeps);
  registerTrigger(io, handlerDeps);

  let redis: RedisLink | undefined;
  let closed = false;
  const readiness = (): Readiness => {
    if (closed) return { ready: false, reason: 'shutting down' };
    if (!options.redis) return { ready: true };
    return redis ? redis.readiness() : { ready: false, reason: 'Redis not linked yet' };
  };

  const app = createApp({ logger, bus, readiness, maxPublishBody: options.maxPublishBody });
  const httpServer = options.https
    ? https.createServer(tls ?? { key: fs.readFileSync(options.key), cert: fs.readFileSync(options.cert) }, app)
    : http.createServer(app);
  io.attach(httpServer);
  useLegacyPollingFraming(io.engine);

  io.engine.on('connection_error', (error: { code: number; message: string; req: http.IncomingMessage }) => {
    logger.warn({ code: error.code, reason: error.message, url: error.req.url }, 'refused Engine.IO connection');
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closed = true;
    closing ??= new Promise<void>((resolve) => {
      io.close(() => resolve());
      httpServer.closeAllConnections();
    })
      .then(() => redis?.close())
      .then(() => logger.info('Closed'));
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

  return { options, app, io, httpServer, listen, close };
}
