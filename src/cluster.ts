import { createAdapter } from '@socket.io/redis-adapter';
import Redis, { type RedisOptions } from 'ioredis';
import type { Server } from 'socket.io';
import type { Logger } from './logger';
import { parseRedisTarget, type ServiceOptions } from './options';

/** One entry of Consul's `/v1/catalog/service/NAME` answer (the fields used here). */
interface CatalogEntry {
  Address?: string;
  ServiceAddress?: string;
  ServicePort?: number;
}

/**
 * Finds a service's address in Consul's catalog, as the 2018 service did: the first entry's
 * `ServiceAddress` (or the node's `Address` when that is empty) and `ServicePort`.
 * @throws {Error} with a message fit for the operator when Consul cannot say.
 */
export async function lookupConsulService(consulHost: string, service: string, timeoutMs = 5000): Promise<{ host: string; port: number }> {
  const url = new URL(`/v1/catalog/service/${encodeURIComponent(service)}`, consulHost);
  let entries: unknown;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    entries = await response.json();
  } catch (error) {
    throw new Error(`Consul look-up of ${service} at ${url.origin} failed: ${(error as Error).message}`);
  }
  const first = Array.isArray(entries) ? (entries[0] as CatalogEntry | undefined) : undefined;
  if (!first) throw new Error(`Consul at ${url.origin} knows no instance of service ${service}`);
  const host = first.ServiceAddress || first.Address;
  const port = first.ServicePort;
  if (!host || typeof port !== 'number' || port < 1 || port > 65535) {
    throw new Error(`Consul's entry for ${service} has no usable address: ${JSON.stringify(first)}`);
  }
  return { host, port };
}

/** Readiness of a node: a reason when it is not ready. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

/** The live link of a node to Redis. */
export interface RedisLink {
  readiness(): Readiness;
  close(): Promise<void>;
}

// Reconnection back-off: 100 ms, 200 ms, … capped so that a node is back within 2 s of Redis.
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2000);

// Commands the adapter fires without awaiting; their failure while Redis is away is logged here
// instead of becoming an unhandled rejection that would stop the process.
const FIRE_AND_FORGET = new Set(['publish', 'subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe']);

function guarded(client: Redis, onFailure: (command: string, error: Error) => void): Redis {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && FIRE_AND_FORGET.has(property)) {
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          if (result instanceof Promise) result.catch((error: Error) => onFailure(property, error));
          return result;
        };
      }
      return value.bind(target);
    },
  });
}

/**
 * Links `io` to the other nodes through Socket.IO's Redis adapter on two ioredis clients.
 * The node serves its own clients at once; Redis is reached, and re-reached after any outage,
 * in the background, and each change of state is logged once.
 */
export function linkThroughRedis(io: Server, target: { url: string } | { host: string; port: number }, db: number, logger: Logger): RedisLink {
  const where = 'url' in target ? new URL(target.url).host : `${target.host}:${target.port}`;
  const common: RedisOptions = { db, retryStrategy, lazyConnect: false };
  const make = (options: RedisOptions) =>
    'url' in target ? new Redis(target.url, { ...common, ...options }) : new Redis({ ...common, ...options, host: target.host, port: target.port });
  // Publishing fails at once while Redis is away (local delivery goes on; nothing queues up in
  // memory), while subscriptions wait for it and ioredis restores them after each reconnect.
  const pub = make({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const sub = make({ maxRetriesPerRequest: null, autoResubscribe: true });

  let lost = 0;
  let state: 'connecting' | 'ready' | 'down' | 'closed' = 'connecting';
  const enter = (next: typeof state) => {
    if (next === state) return;
    if (next === 'ready') logger.info({ redis: where, lostWhileDown: lost }, 'Redis connected: cross-node delivery on');
    if (next === 'down') logger.warn({ redis: where }, 'Redis unreachable: serving local clients only, retrying');
    state = next;
    lost = 0;
  };
  for (const client of [pub, sub]) {
    client.on('ready', () => pub.status === 'ready' && sub.status === 'ready' && enter('ready'));
    client.on('reconnecting', () => state !== 'closed' && enter('down'));
    client.on('error', (error: Error) => logger.debug({ redis: where, err: error }, 'Redis client error'));
  }
  const onFailure = (command: string, error: Error) => {
    lost += 1;
    logger.debug({ redis: where, command, err: error }, 'Redis command failed');
  };

  io.adapter(createAdapter(guarded(pub, onFailure), guarded(sub, onFailure)));
  logger.info({ redis: where, db }, 'Connecting to Redis');

  return {
    readiness: () =>
      pub.status === 'ready' && sub.status === 'ready'
        ? { ready: true }
        : { ready: false, reason: `Redis at ${where} is ${pub.status === 'ready' ? sub.status : pub.status}` },
    close: async () => {
      enter('closed');
      // QUIT leaves Redis cleanly; while it is unreachable there is nothing to leave, and a QUIT
      // queued for a Redis that never comes back would never settle.
      await Promise.allSettled([pub, sub].map((client) => (client.status === 'ready' ? client.quit() : client.disconnect())));
    },
  };
}

/**
 * Links `io` to the other nodes through the Redis of `--redis`, looked up in Consul first when
 * it names a service.
 * @throws {Error} when the Consul look-up fails.
 */
export async function connectCluster(io: Server, options: Pick<ServiceOptions, 'redis' | 'database' | 'consulHost'>, logger: Logger): Promise<RedisLink> {
  let target = parseRedisTarget(options.redis!);
  if ('service' in target) {
    target = await lookupConsulService(options.consulHost, target.service);
    logger.info({ service: options.redis, host: target.host, port: target.port }, 'Found Redis in Consul');
  }
  return linkThroughRedis(io, target, options.database, logger);
}
