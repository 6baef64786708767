import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Router } from 'express';
import { requireBearer } from './auth';
import { Refusal } from './errors';
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
}

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

function reply(res: express.Response, status: number, text: string) {
  res.status(status).type('text/plain').send(text);
}

/** Builds the Express app: `GET /healthcheck`, `GET /readyz` and `POST /bus-message/:roomId`. */
export function createApp({ logger, metrics, serveMetrics, bus, readiness, maxPublishBody, maxIdLength, publishToken, console }: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are a few bytes of text: hashing each one for an ETag cost more than sending it.
  app.set('etag', false);

  app.get('/healthcheck', (_req, res) => reply(res, 200, 'OK'));
  app.get('/readyz', (_req, res) => {
    const { ready, reason } = readiness();
    reply(res, ready ? 200 : 503, ready ? 'OK' : `Not ready: ${reason}`);
  });

  // Read from the header itself: req.is() answers null for a request without a body, and an
  // empty JSON request deserves "empty body" (400), not "wrong type" (415).
  const requireJson: RequestHandler = (req, res, next) => {
    const type = req.headers['content-type'] ?? '';
    const charset = /;\s*charset="?([^";\s]+)/i.exec(type)?.[1].toLowerCase();
    if (JSON_TYPE.test(type) && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return next();
    reply(res, 415, 'Content-Type must be application/json (UTF-8)');
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
  app.post('/bus-message/:roomId', countPublish, authorize, requireJson, readBody, (req, res) => {
    let room: string;
    try {
      room = requireId(req.params.roomId, 'room', maxIdLength);
    } catch (error) {
      return reply(res, 400, (error as Error).message);
    }
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    if (text.trim() === '') return reply(res, 400, 'Body must be JSON; it is empty');
    let message: unknown;
    try {
      message = JSON.parse(text);
      requireShallow(message, 'Body');
    } catch (error) {
      return reply(res, 400, error instanceof Refusal ? error.message : 'Body is not valid JSON');
    }
    publishToBus(bus, room, message);
    logger.debug({ nsp: bus.name, room, sender: 'POST' }, 'POST /bus-message');
    reply(res, 200, 'OK');
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
    reply(res, status, status >= 500 ? 'Internal error' : String(error.message ?? 'Bad request'));
  };
  app.use(onError);
  return app;
}
