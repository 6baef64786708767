/**
 * Polling through any load balancer: in cluster mode each Engine.IO session id names the node that
 * holds the session, and a node that receives a request (poll, POST or WebSocket upgrade) for a
 * session held by another node relays it there. Clients that carry no sticky cookie (Node.js
 * socket.io-client 2.x, 4.x without `withCredentials`) then work behind a round-robin proxy.
 *
 * Where a node is reachable is read from Redis only (each node registers its `--advertise-url`
 * there, with a TTL): a client chooses a session id, never an address. A relayed request carries
 * a header with a secret shared through Redis, so that it is relayed at most once.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import { createProxyServer } from 'http-proxy-3';
import type { Redis } from 'ioredis';
import type { Server } from 'socket.io';
import type { Logger } from './logger';
import type { ForwardKind, Metrics } from './metrics';

/** How long a node's address stays registered without being refreshed, in ms. */
export const REGISTRATION_TTL_MS = 10_000;
/** How often a node refreshes its registration (and reads the shared secret), in ms. */
export const REGISTRATION_REFRESH_MS = 2000;
/** How soon a node tries again to register for the first time, in ms. */
const FIRST_REGISTRATION_RETRY_MS = 100;
/** How long a looked-up address is used before it is read from Redis again, in ms. */
const ADDRESS_CACHE_MS = REGISTRATION_REFRESH_MS;

/** The header a relayed request carries: the cluster's shared secret. */
export const FORWARD_MARKER = 'x-websocket-service-forwarded';
const KEY_PREFIX = 'websocket-service#';
/** Where the cluster's relay secret is kept; the first node to start sets it. */
export const SECRET_KEY = `${KEY_PREFIX}forward-secret`;
/** Where node `nodeId` registers its address. */
export const nodeKey = (nodeId: string): string => `${KEY_PREFIX}node#${nodeId}`;

/** `<12 hex: node id>.<22 base64url: 128 random bits>`; the random part alone is the credential. */
const SESSION_ID = /^([0-9a-f]{12})\.[\w-]{22}$/;

/** A new node id: 48 random bits, which only needs to tell the nodes of one cluster apart. */
export function newNodeId(): string {
  return randomBytes(6).toString('hex');
}

/** A new Engine.IO session id for a session held by `nodeId`: as unguessable as engine.io's own (128 random bits). */
export function sessionIdOn(nodeId: string): string {
  return `${nodeId}.${randomBytes(16).toString('base64url')}`;
}

/** The node a session id names, or undefined for an id of another shape (a single node's, or garbage). */
export function ownerOf(sid: string): string | undefined {
  return SESSION_ID.exec(sid)?.[1];
}

/**
 * Where the other nodes reach this one when `--advertise-url` is unset: the bound address when the
 * node listens on one address only, else the host name (a container's, resolvable on its network),
 * with the listening port and the node's scheme.
 */
export function defaultAdvertiseUrl(secure: boolean, address: AddressInfo, hostname = os.hostname()): string {
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const host = wildcard ? hostname : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${secure ? 'https' : 'http'}://${host}:${address.port}`;
}

/** What {@link forwardSessions} needs. */
export interface ForwardingDeps {
  io: Server;
  nodeId: string;
  /** The Redis client for commands, as it is now. */
  redis: () => Redis;
  logger: Logger;
  metrics: Pick<Metrics, 'forwarded' | 'forwardFailed'>;
  /** Largest POST body relayed: engine.io's `maxHttpBufferSize`. */
  maxBody: number;
  /** A relay that carries nothing for this long is cut, in ms. */
  idleMs: number;
}

/** A node's relaying of other nodes' sessions. */
export interface Forwarding {
  /** Registers `url` as this node's address, now and every {@link REGISTRATION_REFRESH_MS}. */
  advertise(url: string): void;
  /** Registered and holding the cluster's secret: the node can relay and be relayed to. */
  ready(): boolean;
  /**
   * Stops relaying WebSockets (each relay is cut: the client reconnects through the balancer,
   * as this node's own WebSocket clients do) and withdraws the registration. Relayed polls in
   * flight may finish, within the node's shutdown grace like every request.
   */
  close(): Promise<void>;
}

/**
 * Names every new session of `io` for `nodeId`, and relays requests for other nodes' sessions to
 * them (see the module's comment). Installed as an Engine.IO middleware: it sees polls, POSTs and
 * upgrades before engine.io looks the session up, and hands engine.io every request it does not
 * relay, so that an id of an unknown or expired node gets engine.io's own `400 Session ID unknown`.
 */
export function forwardSessions({ io, nodeId, redis, logger, metrics, maxBody, idleMs }: ForwardingDeps): Forwarding {
  const candidate = randomBytes(32).toString('base64url');
  let secret: Buffer | undefined;
  let advertised: string | undefined;
  let registered = false;
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  const known = new Map<string, { target: URL; until: number }>();
  const asking = new Map<string, Promise<URL | undefined>>();
  const relays = new Set<Socket>();
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  // Node's own x-forwarded-* headers: informative for the owner; nothing in the service reads
  // them (addresses are counted at the handshake, which is never relayed).
  const proxy = createProxyServer({ xfwd: true, proxyTimeout: idleMs });
  // A client gone before the other node answered its upgrade takes the pending request with it
  // (once upgraded, http-proxy-3 ends the relay's two sockets together).
  proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
    let upgraded = false;
    proxyReq.once('upgrade', () => (upgraded = true));
    socket.once('close', () => upgraded || proxyReq.destroy());
  });
  // engine.io's documented hook for choosing session ids.
  io.engine.generateId = () => sessionIdOn(nodeId);

  const register = async () => {
    if (!advertised) return;
    try {
      const replies = await redis()
        .multi()
        .set(nodeKey(nodeId), advertised, 'PX', REGISTRATION_TTL_MS)
        .set(SECRET_KEY, candidate, 'NX')
        .get(SECRET_KEY)
        .exec();
      const current = replies?.[2]?.[1];
      if (typeof current !== 'string') throw new Error(`no relay secret in Redis: ${String(replies?.[2]?.[0] ?? 'transaction aborted')}`);
      secret = Buffer.from(current);
      if (!registered) logger.info({ advertiseUrl: advertised, nodeId }, 'Registered in Redis: other nodes relay requests for this node’s sessions to its advertise URL');
      registered = true;
    } catch (error) {
      // The link reports Redis outages; the registration simply expires if they last.
      logger.debug({ err: error }, 'could not refresh this node’s registration for forwarding');
    }
    const now = Date.now();
    for (const [id, entry] of known) if (entry.until <= now) known.delete(id);
  };

  const addressOf = (owner: string): URL | Promise<URL | undefined> => {
    const hit = known.get(owner);
    if (hit && hit.until > Date.now()) return hit.target;
    let pending = asking.get(owner);
    if (!pending) {
      pending = redis()
        .get(nodeKey(owner))
        .then(
          (value) => {
            const target = value ? parseTarget(value) : undefined;
            if (target) known.set(owner, { target, until: Date.now() + ADDRESS_CACHE_MS });
            return target;
          },
          () => undefined,
        )
        .finally(() => asking.delete(owner));
      asking.set(owner, pending);
    }
    return pending;
  };

  const isRelayed = (marker: string | string[] | undefined): boolean => {
    if (typeof marker !== 'string' || !secret) return false;
    const given = Buffer.from(marker);
    return given.length === secret.length && timingSafeEqual(given, secret);
  };

  const fail = (kind: ForwardKind, owner: string, error: Error, res: http.ServerResponse | Socket) => {
    metrics.forwardFailed(kind);
    logger.warn({ kind, node: owner, err: error }, 'could not relay a request to the node holding its session');
    if (res instanceof http.ServerResponse) answer(res, 502, 'Bad Gateway');
    // An upgrade may have been answered already: the WebSocket just ends, as a broken one would.
    else res.destroy();
  };

  const relay = (kind: ForwardKind, owner: string, target: URL, req: http.IncomingMessage, res: http.ServerResponse) => {
    if (kind === 'post') {
      // A declared length bounds the body (Node reads no further), so the relay carries no more
      // than engine.io would take; engine.io answers 413 beyond that, and so does the relay.
      const length = req.headers['content-length'];
      if (length === undefined) return answer(res, 411, 'Length Required');
      if (Number(length) > maxBody) return answer(res, 413, 'Payload Too Large');
    }
    metrics.forwarded(kind);
    const options = {
      target,
      agent: target.protocol === 'https:' ? agents.https : agents.http,
      headers: { [FORWARD_MARKER]: secret!.toString() },
    };
    if (kind !== 'upgrade') {
      proxy.web(req, res, options, (error) => fail(kind, owner, error, res));
      return;
    }
    const socket = req.socket;
    relays.add(socket);
    socket.once('close', () => relays.delete(socket));
    // A WebSocket client sends nothing before the 101 answer (RFC 6455 §4.1): no head to pass on.
    proxy.ws(req, socket, Buffer.alloc(0), options, (error) => fail(kind, owner, error, socket));
    // Set after proxy.ws(), which clears the socket's timeout. Every byte either way is relayed
    // through this socket, so its silence is the relay's.
    socket.setTimeout(idleMs, () => socket.destroy());
  };

  io.engine.use((req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => {
    const marker = req.headers[FORWARD_MARKER];
    delete req.headers[FORWARD_MARKER];
    // Relayed here by another node: held here or nowhere, never relayed again.
    if (marker !== undefined && isRelayed(marker)) return next();
    const sid = new URL(req.url ?? '/', 'http://x').searchParams.get('sid');
    const owner = sid ? ownerOf(sid) : undefined;
    if (!owner || owner === nodeId || !secret) return next();
    // engine.io hands an upgrade's middlewares a stand-in response, not an http.ServerResponse.
    const kind: ForwardKind = !(res instanceof http.ServerResponse) ? 'upgrade' : req.method === 'POST' ? 'post' : 'poll';
    if (kind === 'upgrade' && closing) return next();
    const found = addressOf(owner);
    if (found instanceof URL) return relay(kind, owner, found, req, res);
    found.then(
      (target) => (target ? relay(kind, owner, target, req, res) : next()),
      (error: Error) => fail(kind, owner, error, kind === 'upgrade' ? req.socket : res),
    );
  });

  return {
    advertise(url) {
      advertised = url;
      // Until the first registration, retried soon: Redis is reached in the background at start.
      const cycle = () => {
        void register().then(() => {
          if (closing) return;
          timer = setTimeout(cycle, registered ? REGISTRATION_REFRESH_MS : FIRST_REGISTRATION_RETRY_MS);
          timer.unref();
        });
      };
      cycle();
    },
    ready: () => registered,
    async close() {
      closing = true;
      clearTimeout(timer);
      for (const socket of relays) socket.destroy();
      if (advertised) await redis().del(nodeKey(nodeId)).catch(() => {});
    },
  };
}

/** A registered address, if it is one: an http(s) origin. */
function parseTarget(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? new URL(url.origin) : undefined;
  } catch {
    return undefined;
  }
}

/** Answers a request that is not relayed with `status`, and closes its connection. */
function answer(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) res.destroy();
  else res.writeHead(status, { connection: 'close', 'content-type': 'text/plain' }).end(text);
}
