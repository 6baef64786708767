import fs from 'node:fs';
import path from 'node:path';
import { Router, type RequestHandler, type Response } from 'express';
import type { Server } from 'socket.io';
import { tokenMatches } from '../auth';
import type { Logger } from '../logger';
import { readState, sharedReader } from './state';

export type { ConsoleState, MemberState, NamespaceState, RoomState } from './state';

/** What the console needs from the node it runs on. */
export interface ConsoleDeps {
  io: Server;
  /** The Socket.IO path the page's client connects to. */
  socketPath: string;
  /** The token the API requires (Bearer or `?token=`); the page asks for it. */
  token: string;
  logger: Logger;
}

/**
 * The page's files. They sit beside this module: in `src/console/public` when run from source,
 * copied to `dist/console/public` by `npm run build`.
 */
export const PUBLIC_DIR = path.join(__dirname, 'public');

const ASSETS: Record<string, string> = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** How old a state may be when another page asks for it (the page polls every second). */
const STATE_MAX_AGE_MS = 500;

// Everything the page loads comes from this service; the socket may use ws: or wss:.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function securityHeaders(res: Response) {
  res.set({
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    // The page may be opened with ?token=: never send that URL anywhere.
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  });
}

/** The live console: a page for DMApp developers and the JSON it reads. */
export function createConsoleRouter(deps: ConsoleDeps): Router {
  const { io, socketPath, token, logger } = deps;
  const router = Router();

  const page = fs
    .readFileSync(path.join(PUBLIC_DIR, 'index.html'), 'utf8')
    .replaceAll('{{SOCKET_PATH}}', escapeHtml(socketPath.replace(/\/+$/, '')));
  const assets = new Map(
    Object.entries(ASSETS).map(([file, type]) => [file, { type, body: fs.readFileSync(path.join(PUBLIC_DIR, file)) }]),
  );

  router.get('/', (req, res) => {
    // Assets and the API are addressed relative to the page, so it must be /console/ (this also
    // keeps working behind a proxy that mounts the service under a prefix).
    const [pathname, query] = req.originalUrl.split(/\?(.*)/s);
    if (!pathname.endsWith('/')) return res.redirect(301, `${path.posix.basename(pathname)}/${query ? `?${query}` : ''}`);
    securityHeaders(res);
    res.type('html').send(page);
  });

  for (const [file, { type, body }] of assets) {
    router.get(`/${file}`, (_req, res) => {
      securityHeaders(res);
      res.type(type).send(body);
    });
  }

  const authorize: RequestHandler = (req, res, next) => {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (tokenMatches(token, bearer) || tokenMatches(token, req.query.token)) return next();
    logger.warn({ path: req.baseUrl + req.path, address: req.socket.remoteAddress }, 'refused console request without a valid client token');
    res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unauthorized: the console token is required' });
  };

  // Serialised once per read and shared by every page polling meanwhile.
  const state = sharedReader(async () => Buffer.from(JSON.stringify(await readState(io, logger))), STATE_MAX_AGE_MS);
  router.get('/api/state', authorize, (_req, res, next) => {
    state()
      .then((body) => res.set('Cache-Control', 'no-store').type('application/json').send(body))
      .catch(next);
  });

  return router;
}
