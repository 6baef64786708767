import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Namespace } from 'socket.io';
import { refuse } from './errors';
import type { Logger } from './logger';
import type { Metrics } from './metrics';


/** Compares in constant time: digests first, so neither the length nor a prefix leaks. */
export function tokenMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/**
 * Admits only sockets that bring one of `tokens`: v4 clients in `auth.token`, 1.x clients as the
 * `token` query parameter (2.x clients' namespace query arrives in `auth` too).
 */
export function requireClientToken(nsp: Namespace, tokens: string[], { logger, metrics }: { logger: Logger; metrics: Metrics }): void {
  nsp.use((socket, next) => {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    if (tokens.some((token) => tokenMatches(token, auth.token) || tokenMatches(token, socket.handshake.query.token))) return next();
    const refusal = refuse('unauthorized');
    metrics.refused(refusal.metric);
    logger.warn({ nsp: nsp.name, address: socket.handshake.address, reason: refusal.code }, 'refused connection without a valid client token');
    next(refusal);
  });
}

/** Requires `Authorization: Bearer TOKEN`; 401 otherwise. */
export function requireBearer(token: string, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    if (match && tokenMatches(token, match[1])) return next();
    logger.warn({ path: req.path, address: req.socket.remoteAddress }, 'refused request without a valid bearer token');
    res.status(401).set('WWW-Authenticate', 'Bearer').type('text/plain').send('Unauthorized: Authorization: Bearer <publish token> required');
  };
}
