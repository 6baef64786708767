import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Router } from 'express';
import { requireBearer } from './auth';
import { Refusal } from './errors';
import { NAMESPACES } from './events';
import { PACKAGE } from './package-info';
import { requireId, requireShallow } from './protocol';
import type { Readiness } from './cluster';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { publishToBus, type RoomNamespace } from './namespaces/rooms';

/** What the HTTP endpoints need. */
export interface HttpDeps {
  logger: Logger;
  bus: RoomNamespace;
  /** Whether this node can take traffic (Redis linked in cluster mode, not shutting down). */
  readiness: () => Readiness;
  metrics: Metrics;
  /** Serves `GET /metrics` here when given. */
  serveMetrics?: RequestHandler;
  /** Largest accepted `POST /bus-message` body, in bytes. */
  maxPublishBody: number;
  /** Longest room id, in characters. */
  maxIdLength: number;
  /** When set, `POST /bus-message` requires it as a bearer token. */
  publishToken?: string;
  /** The console page and its API, mounted at `/console` when given. */
  console?: Router;
  /** Origins whose browsers may `POST /bus-message` (the same rule as for the sockets). */
  corsOrigin: '*' | readonly string[];
  /** The Socket.IO path, shown on the index page. */
  socketPath: string;
}

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

function reply(res: express.Response, status: number, text: string) {
  res.status(status).type('text/plain').send(text);
}

/** What `GET /` says: what answers here, for a person who opened the bare URL. No secrets. */
function indexPage({ console, serveMetrics, socketPath }: Pick<HttpDeps, 'console' | 'serveMetrics' | 'socketPath'>): string {
  const rows = [
    ...(console ? [['Console', '/console/']] : []),
    ['Liveness', '/healthcheck'],
    ['Readiness', '/readyz'],
    ...(serveMetrics ? [['Metrics', '/metrics']] : []),
    ['Publish', 'POST /bus-message/ROOM with a JSON body'],
    ['Socket.IO', `path ${socketPath}, namespaces ${NAMESPACES.join(' ')}`],
  ];
  return [`${PACKAGE.name} ${PACKAGE.version}`, '', ...rows.map(([label, value]) => `${`${label}:`.padEnd(11)}${value}`), ''].join('\n');
}

/** The methods `/bus-message/:roomId` answers. */
const PUBLISH_ALLOW = 'POST, OPTIONS';

/**
 * Builds the Express app: `GET /` (what answers here), `GET /healthcheck`, `GET /readyz` and
 * `POST /bus-message/:roomId` with its CORS preflight.
 */
export function createApp(deps: HttpDeps): Express {
  const { logger, metrics, serveMetrics, bus, readiness, maxPublishBody, maxIdLength, publishToken, console, corsOrigin } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Answers are a few bytes of text: hashing each one for an ETag cost more than sending it.
  app.set('etag', false);

  const index = indexPage(deps);
  app.get('/', (_req, res) => reply(res, 200, index));
  app.get('/healthcheck', (_req, res) => reply(res, 200, 'OK'));
  app.get('/readyz', (_req, res) => {
    const { ready, reason } = readiness();
    reply(res, ready ? 200 : 503, ready ? 'OK' : `Not ready: ${reason}`);
  });

  // The path alone: a query string may carry anything, and the reason is the client's to read.
  const refusePublish = (req: Request, res: express.Response, status: number, reason: string) => {
    logger.warn({ path: req.path, status, reason }, 'refused POST /bus-message');
    reply(res, status, reason);
  };

  // Read from the header itself: req.is() answers null for a request without a body, and an
  // empty JSON request deserves "empty body" (400), not "wrong type" (415).
  const requireJson: RequestHandler = (req, res, next) => {
    const type = req.headers['content-type'] ?? '';
    const charset = /;\s*charset="?([^";\s]+)/i.exec(type)?.[1].toLowerCase();
    if (JSON_TYPE.test(type) && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return next();
    refusePublish(req, res, 415, 'Content-Type must be application/json (UTF-8)');
  };
  // Raw bytes, parsed below: body-parser's JSON reader turns an empty body into {} and would
  // publish it, and its strict mode would refuse the JSON scalars that NOTIFY accepts.
  const readBody = express.raw({ type: () => true, limit: maxPublishBody });

  if (serveMetrics) app.get('/metrics', serveMetrics);
  if (console) app.use('/console', console);

  const authorize: RequestHandler = publishToken ? requireBearer(publishToken, logger) : (_req, _res, next) => next();
  const countPublish: RequestHandler = (_req, res, next) => {
    res.on('finish', () => metrics.httpPublish(res.statusCode));
    next();
  };
  const originAllowed = (origin: string) => corsOrigin === '*' || corsOrigin.includes(origin);
  // The sockets' rule: a request that names an origin outside --cors-origin is refused. An allowed
  // one is echoed on every answer, refusals included, so that the page can read why.
  const checkOrigin: RequestHandler = (req, res, next) => {
    res.vary('Origin');
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    if (!originAllowed(origin)) {
      logger.warn({ path: req.path, method: req.method, origin }, 'refused /bus-message from an origin not in --cors-origin');
      return reply(res, 403, 'Origin not allowed');
    }
    res.set('Access-Control-Allow-Origin', origin);
    next();
  };
  // A browser sends a JSON POST only after this preflight says yes.
  app.options('/bus-message/:roomId', checkOrigin, (req, res) => {
    res.set('Allow', PUBLISH_ALLOW);
    if (req.headers.origin !== undefined) {
      res.set({
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization',
        'Access-Control-Max-Age': '600',
      });
    }
    res.status(204).end();
  });
  app.post('/bus-message/:roomId', countPublish, checkOrigin, authorize, requireJson, readBody, (req, res) => {
    let room: string;
    try {
      room = requireId(req.params.roomId, 'room', maxIdLength);
    } catch (error) {
      return refusePublish(req, res, 400, (error as Error).message);
    }
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    if (text.trim() === '') return refusePublish(req, res, 400, 'Body must be JSON; it is empty');
    let message: unknown;
    try {
      message = JSON.parse(text);
      requireShallow(message, 'Body');
    } catch (error) {
      return refusePublish(req, res, 400, error instanceof Refusal ? error.message : 'Body is not valid JSON');
    }
    const local = publishToBus(bus, room, message);
    logger.debug({ nsp: bus.name, room, sender: 'POST', local }, 'POST /bus-message');
    reply(res, 200, `OK: delivered to ${local} local socket${local === 1 ? '' : 's'}`);
  });
  app.all('/bus-message/:roomId', (_req, res) => {
    res.set('Allow', PUBLISH_ALLOW);
    reply(res, 405, 'Method not allowed: POST a JSON body');
  });

  app.use((_req, res) => reply(res, 404, 'Not found'));

  const onError: ErrorRequestHandler = (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const status = typeof error?.status === 'number' ? error.status : 500;
    if (status === 413) {
      logger.warn({ path: req.path, limit: maxPublishBody }, 'refused POST body over the limit');
      return reply(res, 413, `Body is larger than ${maxPublishBody} bytes`);
    }
    if (status >= 500) logger.error({ err: error, path: req.path }, 'HTTP request failed');
    // Express's own refusals, such as a room id that is not valid percent-encoding.
    else logger.warn({ path: req.path, status, reason: String(error.message) }, 'refused HTTP request');
    reply(res, status, status >= 500 ? 'Internal error' : String(error.message ?? 'Bad request'));
  };
  app.use(onError);
  return app;
}
