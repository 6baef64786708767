import { randomBytes } from 'node:crypto';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import Redis, { type RedisOptions } from 'ioredis';
import type { Server } from 'socket.io';
import { withPerRecipientOffsets, type AdapterFactory } from './engine';
import type { Logger } from './logger';
import { parseRedisTarget, type RedisMode, type ServiceOptions } from './options';

/** One entry of Consul's `/v1/catalog/service/NAME` answer (the fields used here). */
interface CatalogEntry {
  Address?: string;
  ServiceAddress?: string;
  ServicePort?: number;
}

/** A Consul look-up that failed; the message is one line for the operator, cause included. */
export class ConsulLookupError extends Error {
  override name = 'ConsulLookupError';
}

/** What fetch() failed on: the system error's code (ECONNREFUSED, ENOTFOUND…) rather than "fetch failed". */
function fetchCause(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer in ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; syscall?: string; message?: string } }).cause;
  if (cause?.code && cause.syscall) return cause.code;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/**
 * Finds a service's address in Consul's catalog, as the 2018 service did: the first entry's
 * `ServiceAddress` (or the node's `Address` when that is empty) and `ServicePort`.
 * @throws {ConsulLookupError} "Consul look-up failed: <cause> (…)" when Consul cannot say.
 */
export async function lookupConsulService(consulHost: string, service: string, timeoutMs = 5000): Promise<{ host: string; port: number }> {
  const url = new URL(`/v1/catalog/service/${encodeURIComponent(service)}`, consulHost);
  const fail = (cause: string): never => {
    throw new ConsulLookupError(`Consul look-up failed: ${cause} (service ${JSON.stringify(service)} at ${url.origin})`);
  };
  let response: Response | undefined;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    fail(fetchCause(error, timeoutMs));
  }
  if (!response!.ok) fail(`HTTP ${response!.status}`);
  const entries: unknown = await response!.json().catch(() => fail('its answer is not JSON'));
  const first = Array.isArray(entries) ? (entries[0] as CatalogEntry | undefined) : undefined;
  if (!first) fail('no instance of the service is registered');
  const host = first!.ServiceAddress || first!.Address;
  const port = first!.ServicePort;
  if (!host || typeof port !== 'number' || port < 1 || port > 65535) fail(`its entry has no usable address: ${JSON.stringify(first)}`);
  return { host: host!, port: port! };
}

/** Readiness of a node: a reason when it is not ready. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

/** The live link of a node to Redis. */
export interface RedisLink {
  /** Ready once a round trip through Redis (publish → own subscriber) has come back. */
  readiness(): Readiness;
  /** Cross-node publishes dropped or failed since the start, because Redis was away, stalled or behind. */
  lostPublishes(): number;
  /** The client for plain commands (the publishing one, which fails fast while Redis is away); replaced when the link heals. */
  commands(): Redis;
  close(): Promise<void>;
}

/** How a link watches Redis and bounds what waits for it. */
export interface LinkLimits {
  /** ms between round trips that prove the link. */
  probeInterval: number;
  /** ms any command, and a round trip, may take before Redis counts as not answering. */
  commandTimeout: number;
  /** ms a link may stay not ready before its connections are replaced with new ones. */
  healAfter: number;
  /** Bytes of cross-node publishes that may await Redis's answer; beyond that they are dropped. */
  maxPendingBytes: number;
  /** Cross-node publishes that may await Redis's answer; beyond that they are dropped. */
  maxPendingPublishes: number;
}

/** The bounds a link uses unless told otherwise (`maxPendingBytes` comes from `--redis-queue-bytes`). */
export const LINK_LIMITS: Readonly<LinkLimits> = Object.freeze({
  probeInterval: 1000,
  commandTimeout: 2000,
  healAfter: 5000,
  maxPendingBytes: 16_000_000,
  maxPendingPublishes: 10_000,
});

// Reconnection back-off: 100 ms, 200 ms, … capped so that a node is back within 2 s of Redis.
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2000);

/** Why Redis is out of reach, as logged once per change. */
interface Cause {
  key: string;
  level: 'warn' | 'error';
  text: string;
  error?: Error;
}

function causeOf(error: Error & { code?: string }, hasPassword: boolean, commandTimeout: number): Cause {
  const { message } = error;
  if (message === 'Command timed out' || error.code === 'ETIMEDOUT') return { key: 'timeout', level: 'warn', text: `Redis does not answer (no reply in ${commandTimeout} ms)`, error };
  if (message.includes('NOAUTH')) {
    return hasPassword
      ? { key: 'NOAUTH', level: 'error', text: 'Redis refused to authenticate with the password in the --redis URL (NOAUTH)', error }
      : { key: 'NOAUTH', level: 'error', text: 'Redis wants a password and --redis gives none (NOAUTH; give it as redis://:PASSWORD@host:port)', error };
  }
  if (message.includes('WRONGPASS') || message.includes('invalid password')) {
    return { key: 'WRONGPASS', level: 'error', text: 'Redis refused the password in the --redis URL (WRONGPASS)', error };
  }
  if (error.code === 'ENOTFOUND') return { key: 'ENOTFOUND', level: 'warn', text: `Redis host not found (${message})`, error };
  return { key: error.code ?? message, level: 'warn', text: `Redis unreachable (${message})`, error };
}

const CONNECTION_LOST: Cause = { key: 'closed', level: 'warn', text: 'Redis connection lost' };

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer in ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

type Listener = (...args: unknown[]) => void;
type Method = (...args: unknown[]) => Promise<unknown>;
type SubscriptionKind = 'subscribe' | 'psubscribe' | 'ssubscribe';
const UNSUBSCRIBE = { subscribe: 'unsubscribe', psubscribe: 'punsubscribe', ssubscribe: 'sunsubscribe' } as const;

/**
 * What an adapter holds in place of an ioredis client, for good, while the client behind it may
 * be replaced: the adapter's listeners and subscriptions move to each new client. Its
 * subscription commands are fired without awaiting; their failure is reported instead of
 * becoming an unhandled rejection that would stop the process. `own` replaces commands of the
 * client (the bounded publishes, `duplicate`).
 */
class ClientSlot {
  readonly facade: Redis;
  private readonly listeners: [string | symbol, Listener][] = [];
  private readonly channels: Record<SubscriptionKind, Set<string>> = { subscribe: new Set(), psubscribe: new Set(), ssubscribe: new Set() };

  constructor(
    public client: Redis,
    private readonly onFailure: (command: string, error: Error) => void,
    replaced: Record<string, unknown> = {},
  ) {
    const own: Record<string | symbol, unknown> = {
      on: (event: string | symbol, listener: Listener) => this.on(event, listener),
      addListener: (event: string | symbol, listener: Listener) => this.on(event, listener),
      off: (event: string | symbol, listener: Listener) => this.off(event, listener),
      removeListener: (event: string | symbol, listener: Listener) => this.off(event, listener),
      ...Object.fromEntries(
        (['subscribe', 'psubscribe', 'ssubscribe'] as const).flatMap((kind) => [
          [kind, (...args: unknown[]) => this.subscribe(kind, args, true)],
          [UNSUBSCRIBE[kind], (...args: unknown[]) => this.subscribe(kind, args, false)],
        ]),
      ),
      ...replaced,
    };
    this.facade = new Proxy({} as Redis, {
      get: (target, property) => {
        if (Object.hasOwn(own, property)) return own[property];
        // What an adapter stores on its client (the sharded adapter's handler table) stays with the slot.
        if (Object.hasOwn(target, property)) return Reflect.get(target, property);
        const value: unknown = Reflect.get(this.client, property, this.client);
        return typeof value === 'function' ? value.bind(this.client) : value;
      },
    });
  }

  /** Moves the adapter's listeners and subscriptions to `next`; the caller retires the old client. */
  replace(next: Redis): void {
    for (const [event, listener] of this.listeners) {
      this.client.off(event, listener);
      next.on(event, listener);
    }
    this.client = next;
    for (const kind of ['subscribe', 'psubscribe', 'ssubscribe'] as const) {
      if (this.channels[kind].size) this.fire(kind, [[...this.channels[kind]]]);
    }
  }

  private on(event: string | symbol, listener: Listener): Redis {
    this.listeners.push([event, listener]);
    this.client.on(event, listener);
    return this.facade;
  }

  private off(event: string | symbol, listener: Listener): Redis {
    const index = this.listeners.findIndex(([e, l]) => e === event && l === listener);
    if (index >= 0) this.listeners.splice(index, 1);
    this.client.off(event, listener);
    return this.facade;
  }

  private subscribe(kind: SubscriptionKind, args: unknown[], adding: boolean): Promise<unknown> {
    for (const channel of args.flat()) {
      if (typeof channel !== 'string') continue;
      if (adding) this.channels[kind].add(channel);
      else this.channels[kind].delete(channel);
    }
    return this.fire(adding ? kind : UNSUBSCRIBE[kind], args);
  }

  private fire(command: SubscriptionKind | (typeof UNSUBSCRIBE)[SubscriptionKind], args: unknown[]): Promise<unknown> {
    const result = (this.client[command] as Method).apply(this.client, args);
    result.catch((error: Error) => this.onFailure(command, error));
    return result;
  }
}

/**
 * ioredis writes a few findings about authentication to the console itself (`[WARN] Redis server
 * does not require a password…`, a skipped ready check). It reaches them through the instance's
 * own `auth()` and `info()`, so wrapping those on the service's clients lets its logger say it,
 * in its format, and lets the connection go on as ioredis would have.
 */
function routeConsoleFindings(client: Redis, notice: (text: string) => void): void {
  const wrap = (name: 'auth' | 'info', absorb: (error: Error) => unknown) => {
    const original = client[name] as Method;
    const wrapper = (...args: unknown[]) => {
      const callback = typeof args.at(-1) === 'function' ? (args.pop() as (error: Error | null, value?: unknown) => void) : undefined;
      const result = original.apply(client, args).catch((error: Error) => {
        const value = absorb(error);
        if (value === undefined) throw error;
        return value;
      });
      if (callback) result.then((value) => callback(null, value), (error: Error) => callback(error));
      return result;
    };
    Object.defineProperty(client, name, { value: wrapper, configurable: true, writable: true });
  };
  wrap('auth', (error) => {
    if (/no password is set|without any password configured/.test(error.message)) {
      notice('Redis needs no password, but --redis gives one: it is ignored');
      return 'OK';
    }
    if (error.message.includes("wrong number of arguments for 'auth'")) {
      notice('Redis before version 6 takes a password only: drop the user name from the --redis URL');
      return 'OK';
    }
    return undefined;
  });
  wrap('info', (error) => {
    if (!error.message.includes('NOPERM')) return undefined;
    notice("Redis's user may not run INFO: connecting without checking that Redis has finished loading");
    return '';
  });
}

/** How a node links to the others through Redis. */
export interface LinkSettings {
  target: { url: string } | { host: string; port: number };
  db: number;
  mode: RedisMode;
  /** With `mode` streams: the namespaces whose 4.x sessions recover on any node; empty, recovery is off. */
  recovering: readonly string[];
  limits: LinkLimits;
}

/** Commands of the publishing client that cross nodes, bounded and dropped while Redis is away. */
type BoundedCommand = 'publish' | 'spublish' | 'xadd' | 'set';

/**
 * Per mode: the commands that carry cross-node traffic, and how the readiness round trip goes. It
 * rides on the kind of pub/sub the adapter uses, so that it proves what delivery needs.
 */
const MODES: Record<RedisMode, { bounded: readonly BoundedCommand[]; probe: { publish: 'publish' | 'spublish'; subscribe: 'subscribe' | 'ssubscribe'; event: string } }> = {
  classic: { bounded: ['publish'], probe: { publish: 'publish', subscribe: 'subscribe', event: 'messageBuffer' } },
  sharded: { bounded: ['spublish'], probe: { publish: 'spublish', subscribe: 'ssubscribe', event: 'smessageBuffer' } },
  // XADD carries broadcasts, PUBLISH the requests between nodes (fetchSockets), SET the sessions.
  streams: { bounded: ['xadd', 'publish', 'set'], probe: { publish: 'publish', subscribe: 'subscribe', event: 'messageBuffer' } },
};

function bytesOf(args: unknown[]): number {
  let bytes = 0;
  for (const arg of args.flat()) bytes += typeof arg === 'string' ? Buffer.byteLength(arg) : Buffer.isBuffer(arg) ? arg.length : 8;
  return bytes;
}

/** What a bounded command was refused with: the streams adapter then delivers locally, with no offset. */
class DroppedError extends Error {
  override name = 'DroppedError';
}

/**
 * Links `io` to the other nodes through one of the Redis adapters (`mode`), on ioredis clients:
 * classic pub/sub, sharded pub/sub with a channel per room, or a Redis stream.
 * The node serves its own clients at once; Redis is reached, and re-reached after any outage,
 * in the background, and each change of state is logged once, with its cause.
 *
 * Readiness is proved by a round trip every `probeInterval`: a publish that the node's own
 * subscriber receives. A node not ready for `healAfter` replaces all its connections. What may wait
 * for Redis is bounded: commands time out, and cross-node publishes beyond `maxPendingBytes` or
 * `maxPendingPublishes` awaiting an answer, or sent while the link is not ready, are dropped and
 * counted in {@link RedisLink.lostPublishes}. In streams mode the stream's reader keeps its offset
 * through an outage, so that what other nodes published meanwhile is read when Redis is back.
 */
export function linkThroughRedis(io: Server, settings: LinkSettings, logger: Logger): RedisLink {
  const { target, db, mode, limits } = settings;
  const where = 'url' in target ? new URL(target.url).host : `${target.host}:${target.port}`;
  const hasPassword = 'url' in target && new URL(target.url).password !== '';
  const common: RedisOptions = { db, retryStrategy, lazyConnect: false };
  // Publishing fails at once while Redis is away (local delivery goes on; nothing queues up in
  // memory), while subscriptions wait for it and ioredis restores them after each reconnect.
  const pubOptions: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: limits.commandTimeout, connectionName: 'websocket-service-pub' };
  const subOptions: RedisOptions = { maxRetriesPerRequest: null, autoResubscribe: true, connectionName: 'websocket-service-sub' };
  // The streams adapter's own connections: a blocking XREAD outlasts any command timeout, and it
  // waits through an outage to go on from its offset.
  const streamOptions: RedisOptions = { ...subOptions, connectionName: 'websocket-service-stream' };
  const noticed = new Set<string>();
  const notice = (text: string) => {
    if (noticed.has(text)) return;
    noticed.add(text);
    logger.warn({ redis: where }, text);
  };
  const make = (options: RedisOptions) => {
    const client = 'url' in target ? new Redis(target.url, { ...common, ...options }) : new Redis({ ...common, ...options, host: target.host, port: target.port });
    routeConsoleFindings(client, notice);
    return client;
  };
  const healthChannel = `websocket-service#health#${randomBytes(8).toString('hex')}`;
  const probeWith = MODES[mode].probe;

  let state: 'connecting' | 'ready' | 'down' | 'closed' = 'connecting';
  let notReadySince = Date.now();
  let lastHeal = notReadySince;
  let healsThisOutage = 0;
  let cause: Cause | undefined;
  let announced: string | undefined;
  let lostWhileDown = 0;
  let lostTotal = 0;
  const pending = { bytes: 0, count: 0 };

  const announce = () => {
    if (state !== 'down' || !cause || cause.key === announced) return;
    announced = cause.key;
    logger[cause.level]({ redis: where, err: cause.error }, `${cause.text}: serving local clients only, retrying`);
  };
  const markDown = (why: Cause | undefined) => {
    if (state === 'closed') return;
    if (why) cause = why;
    if (state !== 'down') {
      state = 'down';
      notReadySince = Date.now();
      lastHeal = notReadySince;
      healsThisOutage = 0;
      lostWhileDown = 0;
      cause ??= CONNECTION_LOST;
    }
    announce();
  };
  const markReady = () => {
    if (state === 'ready' || state === 'closed') return;
    logger.info({ redis: where, lostWhileDown, mode }, 'Redis connected: cross-node delivery on');
    state = 'ready';
    cause = undefined;
    announced = undefined;
  };
  const lose = () => {
    lostWhileDown += 1;
    lostTotal += 1;
  };
  const onFailure = (command: string, error: Error) => {
    lose();
    logger.debug({ redis: where, command, err: error }, 'Redis command failed');
  };

  let pub = make(pubOptions);
  let sub = make(subOptions);

  // A failed or dropped command is counted here; only XADD's caller hears of it (see DroppedError).
  const bounded = (command: BoundedCommand) => {
    const failed = (error: Error): Promise<unknown> => (command === 'xadd' ? Promise.reject(error) : Promise.resolve(0));
    return (...args: unknown[]): Promise<unknown> => {
      const size = bytesOf(args);
      const full = pending.count > 0 && (pending.bytes + size > limits.maxPendingBytes || pending.count >= limits.maxPendingPublishes);
      if (state !== 'ready' || full) {
        lose();
        return failed(new DroppedError(`${command} dropped: Redis ${full ? 'is behind' : 'is not ready'}`));
      }
      pending.bytes += size;
      pending.count += 1;
      const settle = () => {
        pending.bytes -= size;
        pending.count -= 1;
      };
      return (pub[command] as Method).apply(pub, args).then(
        (value) => {
          settle();
          return value;
        },
        (error: Error) => {
          settle();
          onFailure(command, error);
          const why = causeOf(error, hasPassword, limits.commandTimeout);
          if (why.key === 'timeout') markDown(why);
          return failed(error);
        },
      );
    };
  };

  // The streams adapter duplicates its client for its reader and its subscriber: those become
  // slots of this link too, healed and closed with it.
  const duplicates: ClientSlot[] = [];
  const duplicate = () => {
    const slot = new ClientSlot(make(streamOptions), onFailure);
    quiet(slot.client);
    duplicates.push(slot);
    return slot.facade;
  };
  const pubSlot = new ClientSlot(pub, onFailure, {
    ...Object.fromEntries(MODES[mode].bounded.map((command) => [command, bounded(command)])),
    ...(mode === 'streams' ? { duplicate } : {}),
  });
  const subSlot = new ClientSlot(sub, onFailure);

  let awaited: { token: string; arrived: () => void } | undefined;
  let probing = false;
  const quiet = (client: Redis) => client.on('error', (error: Error) => logger.debug({ redis: where, err: error }, 'Redis client error'));
  const watch = (client: Redis) => {
    client.on('error', (error: Error) => {
      logger.debug({ redis: where, err: error }, 'Redis client error');
      cause = causeOf(error, hasPassword, limits.commandTimeout);
      announce();
    });
    client.on('close', () => markDown(undefined));
    client.on('ready', () => void probe());
    client.on(probeWith.event, (channel: Buffer, message: Buffer) => {
      if (awaited && channel.toString() === healthChannel && message.toString() === awaited.token) awaited.arrived();
    });
  };

  // A publish that this node's own subscriber receives: both connections work, and so does the
  // subscription that cross-node delivery rides on. `status` fields cannot tell that much.
  const roundTrip = async (p: Redis, s: Redis) => {
    const token = randomBytes(6).toString('hex');
    const arrived = new Promise<void>((resolve) => {
      awaited = { token, arrived: resolve };
    });
    await s[probeWith.subscribe](healthChannel);
    await p[probeWith.publish](healthChannel, token);
    await arrived;
  };
  const probe = async () => {
    if (probing || state === 'closed' || pub.status !== 'ready' || sub.status !== 'ready') return;
    probing = true;
    const [p, s] = [pub, sub];
    try {
      await deadline(roundTrip(p, s), limits.commandTimeout, 'round trip through Redis');
      if (p === pub && s === sub) markReady();
    } catch (error) {
      // A round trip cut by a closing connection is that connection's event to report, with its cause.
      const stillOpen = p.status === 'ready' && s.status === 'ready';
      if (p === pub && s === sub && stillOpen) markDown(causeOf(error as Error, hasPassword, limits.commandTimeout));
    } finally {
      awaited = undefined;
      probing = false;
    }
  };

  const retire = (client: Redis) => {
    client.removeAllListeners();
    client.on('error', () => {});
    client.disconnect();
  };
  // ioredis keeps a connection it believes in; one that a black hole or a stuck handshake holds
  // is only left by starting over, and starting over costs nothing when it was not needed.
  const heal = () => {
    lastHeal = Date.now();
    healsThisOutage += 1;
    const fields = { redis: where, notReadyMs: lastHeal - notReadySince };
    if (healsThisOutage === 1) logger.warn(fields, 'Redis link not ready for too long: replacing its connections');
    else logger.debug(fields, 'Replacing the Redis connections again');
    const [oldPub, oldSub] = [pub, sub];
    pub = make(pubOptions);
    sub = make(subOptions);
    watch(pub);
    watch(sub);
    pubSlot.replace(pub);
    subSlot.replace(sub);
    retire(oldPub);
    retire(oldSub);
    for (const slot of duplicates) {
      const old = slot.client;
      const next = make(streamOptions);
      quiet(next);
      slot.replace(next);
      // The stream reader's blocked XREAD fails with the old connection and is sent again on the new one, from the same offset.
      retire(old);
    }
  };

  watch(pub);
  watch(sub);
  io.adapter(createModeAdapter(mode, pubSlot.facade, subSlot.facade, settings.recovering));
  logger.info({ redis: where, db, mode }, 'Connecting to Redis');

  const timer = setInterval(() => {
    void probe();
    const now = Date.now();
    if ((state === 'down' || state === 'connecting') && now - notReadySince >= limits.healAfter && now - lastHeal >= limits.healAfter) heal();
  }, limits.probeInterval);
  timer.unref();

  return {
    readiness: () => (state === 'ready' ? { ready: true } : { ready: false, reason: `Redis at ${where}: ${cause?.text ?? state}` }),
    lostPublishes: () => lostTotal,
    commands: () => pub,
    close: async () => {
      state = 'closed';
      clearInterval(timer);
      // QUIT leaves Redis cleanly; a Redis that is away or stalled gets no more than a moment.
      // A stream reader blocked in XREAD cannot QUIT: it is disconnected.
      await Promise.allSettled(
        [pub, sub].map(async (client) => {
          if (client.status === 'ready') await deadline(client.quit(), limits.commandTimeout, 'QUIT').catch(() => {});
          client.disconnect();
        }),
      );
      for (const slot of duplicates) retire(slot.client);
    },
  };
}

/** The adapter of `mode`, over the link's clients (or their facades). */
function createModeAdapter(mode: RedisMode, pub: Redis, sub: Redis, recovering: readonly string[]): AdapterFactory {
  switch (mode) {
    case 'classic':
      return createAdapter(pub, sub);
    case 'sharded':
      // "dynamic": a channel per room, so that a node hears only the rooms it has members in.
      return createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' });
    case 'streams':
      // The offset that Socket.IO appends for recovery goes only to the sockets that can use it.
      return withPerRecipientOffsets(createStreamsAdapter(pub), recovering);
  }
}

/**
 * Links `io` to the other nodes through the Redis of `--redis`, looked up in Consul first when
 * it names a service.
 * @param recovering With `redisMode` streams: the namespaces whose 4.x sessions recover on any node.
 * @throws {ConsulLookupError} when the Consul look-up fails.
 */
export async function connectCluster(
  io: Server,
  options: Pick<ServiceOptions, 'redis' | 'redisMode' | 'database' | 'consulHost' | 'redisQueueBytes'>,
  logger: Logger,
  recovering: readonly string[] = [],
): Promise<RedisLink> {
  let target = parseRedisTarget(options.redis!);
  if ('service' in target) {
    const hint = `--redis ${JSON.stringify(options.redis)} has no port, so it is read as a Consul service name (for a Redis address, give host:port)`;
    logger.info({ service: target.service, consul: new URL(options.consulHost).origin }, `Looking up Redis in Consul: ${hint}`);
    try {
      target = await lookupConsulService(options.consulHost, target.service);
    } catch (error) {
      throw new ConsulLookupError(`${(error as Error).message}; ${hint}`);
    }
    logger.info({ service: options.redis, host: target.host, port: target.port }, 'Found Redis in Consul');
  }
  return linkThroughRedis(
    io,
    { target, db: options.database, mode: options.redisMode, recovering, limits: { ...LINK_LIMITS, maxPendingBytes: options.redisQueueBytes } },
    logger,
  );
}
