import path from 'node:path';

/** Log output formats: pino JSON lines, human-readable lines, or the 2-IMMERSE platform line. */
export const LOG_FORMATS = ['json', 'pretty', '2immerse'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The effective configuration of one service node; frozen once resolved. */
export interface ServiceOptions {
  port: number;
  host: string;
  https: boolean;
  key: string;
  cert: string;
  path: string;
  /** `'*'` accepts every origin (as socket.io 1.x did); otherwise the exact origins allowed. */
  corsOrigin: '*' | readonly string[];
  verbose: boolean;
  logFormat: LogFormat;
  /** Largest Socket.IO message accepted from a client. */
  maxHttpBufferSize: number;
  /** Largest `POST /bus-message` body accepted. */
  maxPublishBody: number;
  /** Cluster mode: the Redis linking the nodes (`host:port`, URL or Consul service name). */
  redis: string | undefined;
  database: number;
  consulHost: string;
  /** Required in every Socket.IO handshake when set. */
  clientToken: string | undefined;
  /** Required as `Authorization: Bearer` on `POST /bus-message` when set. */
  publishToken: string | undefined;
  /** Serve the live console page at `/console`. */
  console: boolean;
  /** Required by the console's API (and accepted as a client token); generated at start when unset. */
  consoleToken: string | undefined;
  maxIdLength: number;
  maxRoomsPerSocket: number;
  /** 0: no limit. */
  maxConnections: number;
  /** Engine.IO sessions from one address that have not yet been admitted to a namespace. */
  maxPendingPerAddress: number;
  /** 0: no rate limit. */
  eventRate: number;
  eventBurst: number;
  maxQueuedBytes: number;
  shutdownGrace: number;
  /** Serve Prometheus metrics at `/metrics`. */
  metrics: boolean;
  /** 0: on the service's own port; otherwise a separate listener on this port. */
  metricsPort: number;
  /** How long a disconnected 4.x session may come back and get what it missed, in ms; 0: off. */
  recoveryWindow: number;
  /** Most bytes of missed events kept for one disconnected session. */
  recoverySessionBytes: number;
  /** Most bytes of events kept for recovery in all. */
  recoveryTotalBytes: number;
}

const CERT_DIR = path.resolve(__dirname, '..', 'certs');

/** One option: how it is typed, its default, its range and what it means. */
export interface OptionSpec<T> {
  alias?: string;
  type: 'integer' | 'boolean' | 'string';
  default: T;
  /** Inclusive bounds of an integer option. */
  range?: readonly [number, number];
  choices?: readonly string[];
  describe: string;
  /** Masked wherever the configuration is shown. */
  secret?: boolean;
}

type OptionTable = { readonly [K in keyof ServiceOptions]: OptionSpec<ServiceOptions[K]> };

/**
 * The one table of options: the CLI (`src/server.ts`), the environment variables (`WS_` + the
 * option name in upper snake case), `--help`, `--print-config` and the README all come from it.
 * Each default keeps the 2018 service's behaviour where it had one.
 */
export const OPTION_SPECS: OptionTable = Object.freeze({
  port: { alias: 'p', type: 'integer', default: 3000, range: [0, 65535], describe: 'TCP port to listen on (0 picks a free one)' },
  host: { type: 'string', default: '0.0.0.0', describe: 'address to bind (0.0.0.0 for every IPv4 interface, :: for IPv6 too)' },
  https: { alias: 'S', type: 'boolean', default: false, describe: 'serve HTTPS/WSS; a self-signed pair is generated when key or cert is missing' },
  key: { type: 'string', default: path.join(CERT_DIR, 'server.pem'), describe: 'TLS private key file (PEM) used with --https' },
  cert: { type: 'string', default: path.join(CERT_DIR, 'server.crt'), describe: 'TLS certificate file (PEM) used with --https' },
  path: { type: 'string', default: '/socket.io', describe: 'URL path of the Socket.IO endpoint, for deployments under a prefix' },
  // Any origin, as socket.io 1.x allowed.
  corsOrigin: { type: 'string', default: '*', describe: 'origins allowed for polling and WebSocket: * or a comma-separated list' },
  verbose: { alias: 'v', type: 'boolean', default: false, describe: 'debug logging: every verb with namespace, socket id and room' },
  logFormat: { type: 'string', default: 'json', choices: LOG_FORMATS, describe: 'log output format' },
  // Socket.IO's own default.
  maxHttpBufferSize: { type: 'integer', default: 1_000_000, range: [1024, 1_073_741_824], describe: 'largest Socket.IO message from a client, in bytes' },
  maxPublishBody: { type: 'integer', default: 1_000_000, range: [1024, 1_073_741_824], describe: 'largest POST /bus-message body, in bytes' },
  // Unset: a single node, in memory.
  redis: { alias: 'r', type: 'string', default: undefined, describe: 'cluster mode: Redis as host:port, redis:// or rediss:// URL, or a Consul service name (no ":")' },
  database: { alias: 'd', type: 'integer', default: 0, range: [0, 65535], describe: 'Redis database number' },
  consulHost: { alias: 'c', type: 'string', default: 'https://consul.service.consul:8500', describe: 'Consul URL for looking up a --redis service name' },
  // Unset: any client may connect, and anyone may POST, as in 2018.
  clientToken: { type: 'string', default: undefined, secret: true, describe: 'require this token in every Socket.IO handshake (auth.token, or ?token= for 1.x/2.x clients)' },
  publishToken: { type: 'string', default: undefined, secret: true, describe: 'require "Authorization: Bearer TOKEN" on POST /bus-message' },
  console: { type: 'boolean', default: true, describe: 'serve the live console page at /console (--no-console turns it off)' },
  // Unset: a random token is generated at start and the console URL with it is logged once.
  consoleToken: { type: 'string', default: undefined, secret: true, describe: 'token the console requires; generated and logged with the console URL when unset' },
  maxIdLength: { type: 'integer', default: 512, range: [1, 1_000_000], describe: 'longest room, lobby id or name, in characters' },
  maxRoomsPerSocket: { type: 'integer', default: 1000, range: [1, 1_000_000], describe: 'most rooms one socket may join' },
  maxConnections: { type: 'integer', default: 0, range: [0, 10_000_000], describe: 'most simultaneous admitted clients per node; 0 for no limit' },
  maxPendingPerAddress: {
    type: 'integer',
    default: 64,
    range: [1, 1_000_000],
    describe: 'with --client-token: most sessions from one address not yet admitted to a namespace; the oldest idle one is closed beyond it',
  },
  eventRate: { type: 'integer', default: 0, range: [0, 1_000_000], describe: 'events per second one socket may send, sustained; 0 for no limit' },
  eventBurst: { type: 'integer', default: 100, range: [1, 1_000_000], describe: 'events one socket may send in a burst above --event-rate' },
  maxQueuedBytes: { type: 'integer', default: 4_000_000, range: [65_536, 1_073_741_824], describe: 'bytes queued for a client that stopped reading before it is disconnected' },
  shutdownGrace: { type: 'integer', default: 10_000, range: [0, 600_000], describe: 'on SIGTERM/SIGINT, longest wait for in-flight requests before closing, in ms' },
  metrics: { type: 'boolean', default: true, describe: 'serve Prometheus metrics at /metrics (--no-metrics turns them off)' },
  metricsPort: { type: 'integer', default: 0, range: [0, 65535], describe: 'serve /metrics on this port instead of the service port; 0 for the service port' },
  // Socket.IO's own default window.
  recoveryWindow: {
    type: 'integer',
    default: 120_000,
    range: [0, 86_400_000],
    describe: 'how long a disconnected 4.x client on /layout, /bus or /lobby may come back and get what it missed, in ms; 0 turns recovery off (always off with --redis)',
  },
  recoverySessionBytes: { type: 'integer', default: 1_000_000, range: [1024, 1_073_741_824], describe: 'most bytes of missed events kept for one disconnected session; beyond it the session starts afresh' },
  recoveryTotalBytes: { type: 'integer', default: 64_000_000, range: [65_536, 68_719_476_736], describe: 'most bytes of events kept for recovery in all; the oldest go first' },
});

const OPTION_NAMES = Object.keys(OPTION_SPECS) as (keyof ServiceOptions)[];

/** Every option's default, from {@link OPTION_SPECS}. */
export const DEFAULT_OPTIONS: Readonly<ServiceOptions> = Object.freeze(
  Object.fromEntries(OPTION_NAMES.map((name) => [name, OPTION_SPECS[name].default])) as Record<keyof ServiceOptions, unknown> as ServiceOptions,
);

/** Environment variable that sets an option, e.g. `corsOrigin` → `WS_CORS_ORIGIN`. */
export function envName(option: string): string {
  return 'WS_' + option.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** The CLI spelling of an option, e.g. `corsOrigin` → `cors-origin`. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** What `--help` and the README show of an option's allowed values, e.g. `0..65535`. */
export function rangeText(spec: OptionSpec<unknown>): string | undefined {
  if (spec.range) return `${spec.range[0]}..${spec.range[1]}`;
  if (spec.choices) return spec.choices.join(', ');
  return undefined;
}

/** A configuration value that cannot be used; its message is one line for the operator. */
export class OptionError extends Error {}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off', ''];

/**
 * Reads a boolean from the environment as operators write them (true/1/yes/on, false/0/no/off).
 * @throws {OptionError} for anything else, rather than quietly taking it as false.
 */
export function parseBoolean(variable: string, value: string): boolean {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw new OptionError(`${variable} must be true or false, got ${JSON.stringify(value)}`);
}

/** Rewrites the boolean options' environment variables to the "true"/"false" the CLI parser reads. */
export function normalizeBooleanEnv(env: NodeJS.ProcessEnv): void {
  for (const name of OPTION_NAMES) {
    const variable = envName(name);
    const value = env[variable];
    if (OPTION_SPECS[name].type === 'boolean' && value !== undefined) env[variable] = String(parseBoolean(variable, value));
  }
}

function integer(name: keyof ServiceOptions, value: unknown): number {
  const [min, max] = OPTION_SPECS[name].range!;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new OptionError(`--${kebab(name)} must be an integer from ${min} to ${max}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return n;
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new OptionError(`--${kebab(name)} must not be empty`);
  }
  return value;
}

function parseOrigins(value: unknown): '*' | readonly string[] {
  if (Array.isArray(value)) return value.length === 0 ? '*' : Object.freeze(value.map(String));
  const text = nonEmpty('corsOrigin', value).trim();
  if (text === '*') return '*';
  const origins = text.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new OptionError(`--cors-origin: ${JSON.stringify(origin)} is not an origin like https://example.com`);
    }
    if (url.origin !== origin) {
      throw new OptionError(`--cors-origin: ${JSON.stringify(origin)} is not an origin (did you mean ${url.origin}?)`);
    }
  }
  return Object.freeze(origins);
}

/** Where the Redis that links the nodes is: an address, or a Consul service to look up. */
export type RedisTarget = { url: string } | { host: string; port: number } | { service: string };

/**
 * Reads `--redis`: a `redis://`/`rediss://` URL, `host:port` (`[v6]:port` too), or a Consul service name.
 * @throws {OptionError} for anything else.
 */
export function parseRedisTarget(value: string): RedisTarget {
  if (/^rediss?:\/\//i.test(value)) return { url: value };
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (match) {
    const port = Number(match[3]);
    if (port < 1 || port > 65535) throw new OptionError(`--redis: port ${port} is out of range`);
    return { host: match[1] ?? match[2], port };
  }
  if (!value.includes(':')) return { service: value };
  throw new OptionError(`--redis: ${JSON.stringify(value)} is neither host:port, a redis:// URL nor a Consul service name`);
}

function redisTarget(value: unknown): string {
  const text = nonEmpty('redis', value).trim();
  parseRedisTarget(text);
  return text;
}

function optionalSecret(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (text.length < 8) throw new OptionError(`--${kebab(name)} must be at least 8 characters long`);
  return text;
}

function httpUrl(name: string, value: unknown): string {
  const text = nonEmpty(name, value).trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OptionError(`--${kebab(name)} must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OptionError(`--${kebab(name)} must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  return text;
}

/**
 * Merges `input` over the defaults and checks every value once, at start. The result is frozen:
 * every part of the node reads the same configuration, and none can change it.
 * @throws {OptionError} naming the first bad value.
 */
export function resolveOptions(input: Partial<Record<keyof ServiceOptions, unknown>> = {}): Readonly<ServiceOptions> {
  const raw: Record<keyof ServiceOptions, unknown> = { ...DEFAULT_OPTIONS, ...dropUndefined(input) };
  const socketPath = nonEmpty('path', raw.path);
  if (!socketPath.startsWith('/')) throw new OptionError(`--path must start with /, got ${JSON.stringify(socketPath)}`);
  if (!LOG_FORMATS.includes(raw.logFormat as LogFormat)) {
    throw new OptionError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(raw.logFormat)}`);
  }
  return Object.freeze({
    port: integer('port', raw.port),
    host: nonEmpty('host', raw.host),
    https: Boolean(raw.https),
    key: nonEmpty('key', raw.key),
    cert: nonEmpty('cert', raw.cert),
    path: socketPath.length > 1 ? socketPath.replace(/\/+$/, '') : socketPath,
    corsOrigin: parseOrigins(raw.corsOrigin),
    verbose: Boolean(raw.verbose),
    logFormat: raw.logFormat as LogFormat,
    maxHttpBufferSize: integer('maxHttpBufferSize', raw.maxHttpBufferSize),
    maxPublishBody: integer('maxPublishBody', raw.maxPublishBody),
    redis: raw.redis === undefined || raw.redis === '' ? undefined : redisTarget(raw.redis),
    database: integer('database', raw.database),
    consulHost: httpUrl('consulHost', raw.consulHost),
    clientToken: optionalSecret('clientToken', raw.clientToken),
    publishToken: optionalSecret('publishToken', raw.publishToken),
    console: Boolean(raw.console),
    consoleToken: optionalSecret('consoleToken', raw.consoleToken),
    maxIdLength: integer('maxIdLength', raw.maxIdLength),
    maxRoomsPerSocket: integer('maxRoomsPerSocket', raw.maxRoomsPerSocket),
    maxConnections: integer('maxConnections', raw.maxConnections),
    maxPendingPerAddress: integer('maxPendingPerAddress', raw.maxPendingPerAddress),
    eventRate: integer('eventRate', raw.eventRate),
    eventBurst: integer('eventBurst', raw.eventBurst),
    maxQueuedBytes: integer('maxQueuedBytes', raw.maxQueuedBytes),
    shutdownGrace: integer('shutdownGrace', raw.shutdownGrace),
    metrics: Boolean(raw.metrics),
    metricsPort: integer('metricsPort', raw.metricsPort),
    recoveryWindow: integer('recoveryWindow', raw.recoveryWindow),
    recoverySessionBytes: integer('recoverySessionBytes', raw.recoverySessionBytes),
    recoveryTotalBytes: integer('recoveryTotalBytes', raw.recoveryTotalBytes),
  });
}

const MASK = '********';

/**
 * A value with any password in it masked: a whole secret option, or the password of a
 * `redis://user:pass@host` URL, which may sit in `--redis`.
 */
export function masked(name: keyof ServiceOptions, value: unknown): unknown {
  if (value === undefined) return null;
  if (OPTION_SPECS[name].secret) return MASK;
  if (name === 'redis' && typeof value === 'string') return maskUrlPassword(value);
  return value;
}

/** `redis://user:pass@host:6379` → `redis://user:********@host:6379`; anything else as it is. */
export function maskUrlPassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, `$1${MASK}@`);
}

/** The configuration as an operator may see it: secrets masked, unset options as null. */
export function printableConfig(options: ServiceOptions): Record<string, unknown> {
  return Object.fromEntries(OPTION_NAMES.map((name) => [name, masked(name, options[name])]));
}

/** The README's table of options, one row per option: the README is checked against it. */
export function optionsTable(): string {
  const rows = OPTION_NAMES.map((name) => {
    const spec: OptionSpec<unknown> = OPTION_SPECS[name];
    const flag = (spec.alias ? `-${spec.alias}, ` : '') + `--${kebab(name)}`;
    const fallback = spec.default;
    const shown = name === 'key' || name === 'cert' ? `certs/${path.basename(String(fallback))}` : fallback === undefined ? '(unset)' : String(fallback);
    const range = rangeText(spec);
    return `| \`${flag}\` | \`${envName(name)}\` | \`${shown}\` | ${range ? `\`${range}\`` : ''} | ${spec.describe} |`;
  });
  return ['| option | environment | default | allowed | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
