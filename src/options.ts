import path from 'node:path';

/** Log output formats: pino JSON lines, human-readable lines, or the 2-IMMERSE platform line. */
export const LOG_FORMATS = ['json', 'pretty', '2immerse'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Log levels an operator may choose, most verbose first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * How the nodes of a cluster share events through Redis: `classic` pub/sub (every node hears
 * every broadcast), `sharded` pub/sub with a channel per room (a node hears only the rooms it has
 * members in; Redis ≥ 7), or `streams` (one Redis stream, read from the last offset after a
 * blip, and connection-state recovery across nodes).
 */
export const REDIS_MODES = ['classic', 'sharded', 'streams'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

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
  /** Shorthand for `logLevel: 'debug'`, which it overrides. */
  verbose: boolean;
  /** With `verbose`, resolved to `'debug'`. */
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Largest Socket.IO message accepted from a client. */
  maxHttpBufferSize: number;
  /** Largest `POST /bus-message` body accepted. */
  maxPublishBody: number;
  /** Cluster mode: the Redis linking the nodes (`host:port`, URL or Consul service name). */
  redis: string | undefined;
  /** How events cross nodes through Redis; see {@link REDIS_MODES}. */
  redisMode: RedisMode;
  database: number;
  consulHost: string;
  /** Bytes of cross-node publishes that may await Redis's answer before further ones are dropped. */
  redisQueueBytes: number;
  /** Cluster mode: where the other nodes reach this one (an http(s) origin); derived at listen when unset. */
  advertiseUrl: string | undefined;
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
  /** Longest a connection may hold unsent data of which its peer takes nothing, in ms. */
  writeTimeout: number;
  shutdownGrace: number;
  /** Serve Prometheus metrics at `/metrics`. */
  metrics: boolean;
  /** 0: on the service's own port; otherwise a separate listener on this port. */
  metricsPort: number;
  /** How long a disconnected 4.x session may come back and get what it missed, in ms; 0: off (and always off with `redisMode` classic or sharded). */
  recoveryWindow: number;
  /** Most bytes of missed events kept for one disconnected session. */
  recoverySessionBytes: number;
  /** Most bytes of events kept for recovery in all. */
  recoveryTotalBytes: number;
}

const CERT_DIR = path.resolve(__dirname, '..', 'certs');

/** The sections of `--help`, in the order shown; the README's table follows the same order. */
export const OPTION_GROUPS = {
  server: 'Server',
  tls: 'TLS',
  cluster: 'Cluster',
  limits: 'Limits',
  security: 'Security',
  logging: 'Logging',
  operations: 'Operations',
} as const;
export type OptionGroup = keyof typeof OPTION_GROUPS;

/** One option: how it is typed, its default, its range, where `--help` lists it and what it means. */
export interface OptionSpec<T> {
  alias?: string;
  group: OptionGroup;
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
 * The one table of options: the CLI (`src/server.ts`), the environment variables
 * (`WEBSOCKET_SERVICE_` + the option name in upper snake case), `--help`, `--print-config` and the
 * README all come from it.
 * Each default keeps the 2018 service's behaviour where it had one.
 */
export const OPTION_SPECS: OptionTable = Object.freeze({
  port: { alias: 'p', group: 'server', type: 'integer', default: 3000, range: [0, 65535], describe: 'TCP port to listen on (0 picks a free one)' },
  host: { group: 'server', type: 'string', default: '0.0.0.0', describe: 'address to bind (0.0.0.0 for every IPv4 interface, :: for IPv6 too)' },
  path: { group: 'server', type: 'string', default: '/socket.io', describe: 'URL path of the Socket.IO endpoint, for deployments under a prefix' },
  https: { alias: 'S', group: 'tls', type: 'boolean', default: false, describe: 'serve HTTPS/WSS; a self-signed pair is generated when both default certs/ files are missing' },
  key: { group: 'tls', type: 'string', default: path.join(CERT_DIR, 'server.pem'), describe: 'TLS private key file (PEM) used with --https' },
  cert: { group: 'tls', type: 'string', default: path.join(CERT_DIR, 'server.crt'), describe: 'TLS certificate file (PEM) used with --https' },
  // Unset: a single node, in memory.
  redis: { alias: 'r', group: 'cluster', type: 'string', default: undefined, describe: 'cluster mode: Redis as host:port, redis:// or rediss:// URL, or a Consul service name (no ":")' },
  // Today's behaviour, and the only mode that works with a Redis before 7.
  redisMode: {
    group: 'cluster',
    type: 'string',
    default: 'classic',
    choices: REDIS_MODES,
    describe: 'with --redis: classic pub/sub; sharded pub/sub, a channel per room (Redis 7+); or streams, with recovery across nodes (see "Redis modes")',
  },
  database: { alias: 'd', group: 'cluster', type: 'integer', default: 0, range: [0, 65535], describe: 'Redis database number' },
  consulHost: { alias: 'c', group: 'cluster', type: 'string', default: 'https://consul.service.consul:8500', describe: 'Consul URL for looking up a --redis service name' },
  redisQueueBytes: {
    group: 'cluster',
    type: 'integer',
    default: 16_000_000,
    range: [65_536, 1_073_741_824],
    describe: 'bytes of cross-node publishes that may await a slow or stalled Redis; beyond, they are dropped and counted',
  },
  // Unset: the host name (the bound address when --host names one), the port and the scheme.
  advertiseUrl: {
    group: 'cluster',
    type: 'string',
    default: undefined,
    describe: 'cluster mode: http(s)://host:port at which the other nodes reach this one, to relay requests for its sessions; default: this host\'s name and port',
  },
  // Socket.IO's own default.
  maxHttpBufferSize: { group: 'limits', type: 'integer', default: 1_000_000, range: [1024, 1_073_741_824], describe: 'largest Socket.IO message from a client, in bytes' },
  maxPublishBody: { group: 'limits', type: 'integer', default: 1_000_000, range: [1024, 1_073_741_824], describe: 'largest POST /bus-message body, in bytes' },
  maxIdLength: { group: 'limits', type: 'integer', default: 512, range: [1, 1_000_000], describe: 'longest room, lobby id or name, in characters' },
  maxRoomsPerSocket: { group: 'limits', type: 'integer', default: 1000, range: [1, 1_000_000], describe: 'most rooms one socket may join' },
  maxConnections: { group: 'limits', type: 'integer', default: 0, range: [0, 10_000_000], describe: 'most simultaneous admitted clients per node; 0 for no limit' },
  maxPendingPerAddress: {
    group: 'limits',
    type: 'integer',
    default: 64,
    range: [1, 1_000_000],
    describe: 'with --client-token: most sessions from one address not yet admitted to a namespace; the oldest idle one is closed beyond it',
  },
  eventRate: { group: 'limits', type: 'integer', default: 0, range: [0, 1_000_000], describe: 'events per second one socket may send, sustained; 0 for no limit' },
  eventBurst: { group: 'limits', type: 'integer', default: 100, range: [1, 1_000_000], describe: 'events one socket may send in a burst above --event-rate' },
  maxQueuedBytes: { group: 'limits', type: 'integer', default: 4_000_000, range: [65_536, 1_073_741_824], describe: 'bytes queued for a client that stopped reading before it is disconnected' },
  writeTimeout: { group: 'limits', type: 'integer', default: 30_000, range: [1000, 600_000], describe: 'connections holding unsent data that the client takes none of for this long are reset, in ms' },
  // Socket.IO's own default window.
  recoveryWindow: {
    group: 'limits',
    type: 'integer',
    default: 120_000,
    range: [0, 86_400_000],
    describe: 'how long a disconnected 4.x client on /layout, /bus or /lobby may come back and get what it missed, in ms; 0 turns recovery off (off with --redis, but for --redis-mode streams on /layout and /bus)',
  },
  recoverySessionBytes: { group: 'limits', type: 'integer', default: 1_000_000, range: [1024, 1_073_741_824], describe: 'most bytes of missed events kept for one disconnected session; beyond it the session starts afresh' },
  recoveryTotalBytes: { group: 'limits', type: 'integer', default: 64_000_000, range: [65_536, 68_719_476_736], describe: 'most bytes of events kept for recovery in all; the oldest go first' },
  // Any origin, as socket.io 1.x allowed.
  corsOrigin: { group: 'security', type: 'string', default: '*', describe: 'origins allowed for polling and WebSocket: * or a comma-separated list' },
  // Unset: any client may connect, and anyone may POST, as in 2018.
  clientToken: { group: 'security', type: 'string', default: undefined, secret: true, describe: 'require this token in every Socket.IO handshake (auth.token, or ?token= for 1.x/2.x clients)' },
  publishToken: { group: 'security', type: 'string', default: undefined, secret: true, describe: 'require "Authorization: Bearer TOKEN" on POST /bus-message' },
  // Unset: a random token is generated at start and the console URL with it is logged once.
  consoleToken: { group: 'security', type: 'string', default: undefined, secret: true, describe: 'token the console requires; generated and logged with the console URL when unset' },
  logLevel: { group: 'logging', type: 'string', default: 'info', choices: LOG_LEVELS, describe: 'least severe level logged; debug adds every verb, connection and unknown event' },
  verbose: { alias: 'v', group: 'logging', type: 'boolean', default: false, describe: 'shorthand for --log-level debug (wins over --log-level)' },
  logFormat: { group: 'logging', type: 'string', default: 'json', choices: LOG_FORMATS, describe: 'log output format' },
  console: { group: 'operations', type: 'boolean', default: true, describe: 'serve the live console page at /console (--no-console turns it off)' },
  metrics: { group: 'operations', type: 'boolean', default: true, describe: 'serve Prometheus metrics at /metrics (--no-metrics turns them off)' },
  metricsPort: { group: 'operations', type: 'integer', default: 0, range: [0, 65535], describe: 'serve /metrics on this port instead of the service port (must differ from --port); 0 for the service port' },
  shutdownGrace: { group: 'operations', type: 'integer', default: 10_000, range: [0, 600_000], describe: 'on SIGTERM/SIGINT, longest wait for in-flight requests before closing, in ms' },
});

const OPTION_NAMES = Object.keys(OPTION_SPECS) as (keyof ServiceOptions)[];

/** Every option's default, from {@link OPTION_SPECS}. */
export const DEFAULT_OPTIONS: Readonly<ServiceOptions> = Object.freeze(
  Object.fromEntries(OPTION_NAMES.map((name) => [name, OPTION_SPECS[name].default])) as Record<keyof ServiceOptions, unknown> as ServiceOptions,
);

/** The prefix of the environment variables that set options. */
export const ENV_PREFIX = 'WEBSOCKET_SERVICE_';

/**
 * The prefix of the service's first releases, still read for the options' own names only (see
 * {@link readEnvironment}); to be dropped in the next major version.
 */
export const LEGACY_ENV_PREFIX = 'WS_';

function upperSnake(option: string): string {
  return option.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** Environment variable that sets an option, e.g. `corsOrigin` → `WEBSOCKET_SERVICE_CORS_ORIGIN`. */
export function envName(option: string): string {
  return ENV_PREFIX + upperSnake(option);
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
 * Reads a boolean as operators write them (true/1/yes/on, false/0/no/off).
 * @param variable The flag or environment variable it came from, named in the error.
 * @throws {OptionError} for anything else, rather than quietly taking it as false.
 */
export function parseBoolean(variable: string, value: string): boolean {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw new OptionError(`${variable} must be true or false, got ${JSON.stringify(value)}`);
}

/** Option values read from text (command line or environment), with where each came from. */
export interface OptionInput {
  values: Partial<Record<keyof ServiceOptions, string>>;
  /** The flag or variable each value came from, e.g. `WEBSOCKET_SERVICE_PORT`: errors name it. */
  sources: Partial<Record<keyof ServiceOptions, string>>;
  /** Variables ignored, one line each, for the log once it exists. */
  warnings: string[];
}

const OPTION_BY_SNAKE = new Map<string, keyof ServiceOptions>(
  (Object.keys(OPTION_SPECS) as (keyof ServiceOptions)[]).map((name) => [upperSnake(name), name]),
);

/**
 * The variables Kubernetes injects for a Service whose name gives the prefix (`ws`,
 * `websocket-service`): `…_SERVICE_HOST`, `…_SERVICE_PORT[_NAME]`, `…_PORT_3000_TCP[_ADDR|_PORT|_PROTO]`.
 * `…_PORT` itself (`tcp://10.0.0.1:3000`) collides with the port option and is told apart by its value.
 */
const SERVICE_LINK_NAME = /^(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?|PORT_\d+_(?:TCP|UDP|SCTP)(?:_\w+)?)$/;
const SERVICE_LINK_VALUE = /^(?:tcp|udp|sctp):\/\//i;

/**
 * Reads the options set in the environment, one rule for every option: an empty variable is the
 * same as an unset one, and every value is checked later by {@link resolveOptions} as strictly as
 * a flag, with the variable named in any error. Ignored with a warning, never fatal: unknown
 * `WEBSOCKET_SERVICE_*` variables, and a port that is a Kubernetes service link. Kubernetes'
 * other service-link variables are ignored without one. `WS_*` variables are read only under an
 * option's own name (`WS_PORT`), each with a deprecation warning, and lose to the
 * `WEBSOCKET_SERVICE_*` spelling; any other `WS_*` belongs to someone else and is left alone.
 */
export function readEnvironment(env: NodeJS.ProcessEnv): OptionInput {
  const input: OptionInput = { values: {}, sources: {}, warnings: [] };
  const legacy: [keyof ServiceOptions, string, string][] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (value === undefined || value.trim() === '') continue;
    if (variable.startsWith(ENV_PREFIX)) {
      const suffix = variable.slice(ENV_PREFIX.length);
      const name = OPTION_BY_SNAKE.get(suffix);
      if (!name) {
        if (!SERVICE_LINK_NAME.test(suffix)) input.warnings.push(`${variable} is not an option of this service: ignored`);
      } else if (!isServiceLink(input, name, variable, value)) {
        input.values[name] = value;
        input.sources[name] = variable;
      }
    } else if (variable.startsWith(LEGACY_ENV_PREFIX)) {
      const name = OPTION_BY_SNAKE.get(variable.slice(LEGACY_ENV_PREFIX.length));
      if (name) legacy.push([name, variable, value]);
    }
  }
  for (const [name, variable, value] of legacy) {
    if (input.values[name] !== undefined) {
      input.warnings.push(`${variable} is ignored: ${envName(name)} is set`);
    } else if (!isServiceLink(input, name, variable, value)) {
      input.values[name] = value;
      input.sources[name] = variable;
      input.warnings.push(`${variable} is deprecated: rename it ${envName(name)}`);
    }
  }
  return input;
}

function isServiceLink(input: OptionInput, name: keyof ServiceOptions, variable: string, value: string): boolean {
  if (name !== 'port' || !SERVICE_LINK_VALUE.test(value.trim())) return false;
  input.warnings.push(`${variable} looks like a Kubernetes service link (${value.trim().split('://')[0]}://…): ignored`);
  return true;
}

/** How an error names an option: the flag or variable its value came from, `--flag` by default. */
type Label = (name: keyof ServiceOptions) => string;

const DECIMAL = /^-?\d+$/;

function integer(label: Label, name: keyof ServiceOptions, value: unknown): number {
  const [min, max] = OPTION_SPECS[name].range!;
  // Text must be plain decimal: Number() would also take 1e3, 0x10, 0b1 and " ".
  const n = typeof value === 'string' ? (DECIMAL.test(value.trim()) ? Number(value) : NaN) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new OptionError(`${label(name)} must be a decimal integer from ${min} to ${max}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return n;
}

function boolean(label: Label, name: keyof ServiceOptions, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return parseBoolean(label(name), value);
  throw new OptionError(`${label(name)} must be true or false, got ${String(value)}`);
}

function choice<T extends string>(label: Label, name: keyof ServiceOptions, value: unknown): T {
  const choices = OPTION_SPECS[name].choices!;
  if (typeof value !== 'string' || !choices.includes(value)) {
    throw new OptionError(`${label(name)} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function nonEmpty(label: Label, name: keyof ServiceOptions, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new OptionError(`${label(name)} must not be empty`);
  }
  return value;
}

function parseOrigins(label: Label, value: unknown): '*' | readonly string[] {
  if (Array.isArray(value)) return value.length === 0 ? '*' : Object.freeze(value.map(String));
  const text = nonEmpty(label, 'corsOrigin', value).trim();
  if (text === '*') return '*';
  const origins = text.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new OptionError(`${label('corsOrigin')}: ${JSON.stringify(origin)} is not an origin like https://example.com`);
    }
    if (url.origin !== origin) {
      throw new OptionError(`${label('corsOrigin')}: ${JSON.stringify(origin)} is not an origin (did you mean ${url.origin}?)`);
    }
  }
  return Object.freeze(origins);
}

/** Where the Redis that links the nodes is: an address, or a Consul service to look up. */
export type RedisTarget = { url: string } | { host: string; port: number } | { service: string };

/**
 * Reads `--redis`: a `redis://`/`rediss://` URL, `host:port` (`[v6]:port` too), or a Consul service name.
 * @param source The flag or variable it came from, named in the error.
 * @throws {OptionError} for anything else.
 */
export function parseRedisTarget(value: string, source = '--redis'): RedisTarget {
  if (/^rediss?:\/\//i.test(value)) return { url: value };
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (match) {
    const port = Number(match[3]);
    if (port < 1 || port > 65535) throw new OptionError(`${source}: port ${port} is out of range`);
    return { host: match[1] ?? match[2], port };
  }
  if (!value.includes(':')) return { service: value };
  throw new OptionError(`${source}: ${JSON.stringify(value)} is neither host:port, a redis:// URL nor a Consul service name`);
}

function redisTarget(label: Label, value: unknown): string {
  const text = nonEmpty(label, 'redis', value).trim();
  parseRedisTarget(text, label('redis'));
  return text;
}

function optionalSecret(label: Label, name: keyof ServiceOptions, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (text.length < 8) throw new OptionError(`${label(name)} must be at least 8 characters long`);
  return text;
}

function httpUrl(label: Label, name: keyof ServiceOptions, value: unknown): string {
  const text = nonEmpty(label, name, value).trim();
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new OptionError(`${label(name)} must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  return text;
}

/** An http(s) origin, nothing after the port: other nodes send requests to it with their own paths. */
function origin(label: Label, name: keyof ServiceOptions, value: unknown): string {
  const url = new URL(httpUrl(label, name, value));
  if (url.origin + '/' !== url.href) throw new OptionError(`${label(name)} must be an origin like http://host:3000, without path, query or credentials, got ${JSON.stringify(value)}`);
  return url.origin;
}

/**
 * Merges `input` over the defaults and checks every value once, at start. The result is frozen:
 * every part of the node reads the same configuration, and none can change it.
 * @param sources Where values came from (`--port`, `WEBSOCKET_SERVICE_PORT`), for the errors;
 *   an option not listed is named by its flag.
 * @throws {OptionError} naming the first bad value.
 */
export function resolveOptions(
  input: Partial<Record<keyof ServiceOptions, unknown>> = {},
  sources: Partial<Record<keyof ServiceOptions, string>> = {},
): Readonly<ServiceOptions> {
  const label: Label = (name) => sources[name] ?? `--${kebab(name)}`;
  const raw: Record<keyof ServiceOptions, unknown> = { ...DEFAULT_OPTIONS, ...dropUndefined(input) };
  const socketPath = nonEmpty(label, 'path', raw.path);
  if (!socketPath.startsWith('/')) throw new OptionError(`${label('path')} must start with /, got ${JSON.stringify(socketPath)}`);
  const verbose = boolean(label, 'verbose', raw.verbose);
  const logLevel = choice<LogLevel>(label, 'logLevel', raw.logLevel);
  const options: ServiceOptions = {
    port: integer(label, 'port', raw.port),
    host: nonEmpty(label, 'host', raw.host),
    path: socketPath.length > 1 ? socketPath.replace(/\/+$/, '') : socketPath,
    https: boolean(label, 'https', raw.https),
    key: nonEmpty(label, 'key', raw.key),
    cert: nonEmpty(label, 'cert', raw.cert),
    redis: raw.redis === undefined || raw.redis === '' ? undefined : redisTarget(label, raw.redis),
    redisMode: choice<RedisMode>(label, 'redisMode', raw.redisMode),
    database: integer(label, 'database', raw.database),
    consulHost: httpUrl(label, 'consulHost', raw.consulHost),
    redisQueueBytes: integer(label, 'redisQueueBytes', raw.redisQueueBytes),
    advertiseUrl: raw.advertiseUrl === undefined || raw.advertiseUrl === '' ? undefined : origin(label, 'advertiseUrl', raw.advertiseUrl),
    maxHttpBufferSize: integer(label, 'maxHttpBufferSize', raw.maxHttpBufferSize),
    maxPublishBody: integer(label, 'maxPublishBody', raw.maxPublishBody),
    maxIdLength: integer(label, 'maxIdLength', raw.maxIdLength),
    maxRoomsPerSocket: integer(label, 'maxRoomsPerSocket', raw.maxRoomsPerSocket),
    maxConnections: integer(label, 'maxConnections', raw.maxConnections),
    maxPendingPerAddress: integer(label, 'maxPendingPerAddress', raw.maxPendingPerAddress),
    eventRate: integer(label, 'eventRate', raw.eventRate),
    eventBurst: integer(label, 'eventBurst', raw.eventBurst),
    maxQueuedBytes: integer(label, 'maxQueuedBytes', raw.maxQueuedBytes),
    writeTimeout: integer(label, 'writeTimeout', raw.writeTimeout),
    corsOrigin: parseOrigins(label, raw.corsOrigin),
    clientToken: optionalSecret(label, 'clientToken', raw.clientToken),
    publishToken: optionalSecret(label, 'publishToken', raw.publishToken),
    consoleToken: optionalSecret(label, 'consoleToken', raw.consoleToken),
    verbose,
    logLevel: verbose ? 'debug' : logLevel,
    logFormat: choice<LogFormat>(label, 'logFormat', raw.logFormat),
    console: boolean(label, 'console', raw.console),
    metrics: boolean(label, 'metrics', raw.metrics),
    metricsPort: integer(label, 'metricsPort', raw.metricsPort),
    shutdownGrace: integer(label, 'shutdownGrace', raw.shutdownGrace),
    recoveryWindow: integer(label, 'recoveryWindow', raw.recoveryWindow),
    recoverySessionBytes: integer(label, 'recoverySessionBytes', raw.recoverySessionBytes),
    recoveryTotalBytes: integer(label, 'recoveryTotalBytes', raw.recoveryTotalBytes),
  };
  // Caught here, not as EADDRINUSE after the cluster link and the first listener are up.
  if (options.metrics && options.metricsPort !== 0 && options.metricsPort === options.port) {
    throw new OptionError(`${label('metricsPort')} must differ from ${label('port')} (both ${options.port}); 0 serves /metrics on the service port`);
  }
  return Object.freeze(options);
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

/** An option's default as `--help` and the README show it: the certificates relative to the installation. */
export function defaultText(name: keyof ServiceOptions): string {
  const fallback = OPTION_SPECS[name].default;
  if (name === 'key' || name === 'cert') return `certs/${path.basename(String(fallback))}`;
  return fallback === undefined ? '(unset)' : String(fallback);
}

/** The README's table of options, one row per option: the README is checked against it. */
export function optionsTable(): string {
  const rows = OPTION_NAMES.map((name) => {
    const spec: OptionSpec<unknown> = OPTION_SPECS[name];
    const flag = (spec.alias ? `-${spec.alias}, ` : '') + `--${kebab(name)}`;
    const range = rangeText(spec);
    return `| \`${flag}\` | \`${envName(name)}\` | \`${defaultText(name)}\` | ${range ? `\`${range}\`` : ''} | ${spec.describe} |`;
  });
  return ['| option | environment | default | allowed | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
