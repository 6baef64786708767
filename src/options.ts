import path from 'node:path';
import { parseRedisTarget } from './cluster';

/** Log output formats: pino JSON lines, human-readable lines, or the 2-IMMERSE platform line. */
export const LOG_FORMATS = ['json', 'pretty', '2immerse'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The effective configuration of one service node. */
export interface ServiceOptions {
  port: number;
  host: string;
  https: boolean;
  key: string;
  cert: string;
  path: string;
  /** `'*'` accepts every origin (as socket.io 1.x did); otherwise the exact origins allowed. */
  corsOrigin: '*' | string[];
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
  maxIdLength: number;
  maxRoomsPerSocket: number;
  /** 0: no limit. */
  maxConnections: number;
  /** 0: no rate limit. */
  eventRate: number;
  eventBurst: number;
  maxQueuedBytes: number;
  shutdownGrace: number;
  /** Serve Prometheus metrics at `/metrics`. */
  metrics: boolean;
  /** 0: on the service's own port; otherwise a separate listener on this port. */
  metricsPort: number;
}

const CERT_DIR = path.resolve(__dirname, '..', 'certs');

interface OptionSpec {
  alias?: string;
  type: 'number' | 'boolean' | 'string';
  describe: string;
  choices?: readonly string[];
  /** Masked wherever the configuration is shown. */
  secret?: boolean;
}

/**
 * The one table of options: the CLI (`src/server.ts`), the environment variables (`WS_` + the
 * option name in upper snake case) and the README all come from it.
 */
export const OPTION_SPECS: { [K in keyof ServiceOptions]: OptionSpec } = {
  port: { alias: 'p', type: 'number', describe: 'TCP port to listen on (0 picks a free one)' },
  host: { type: 'string', describe: 'address to bind (0.0.0.0 for every IPv4 interface, :: for IPv6 too)' },
  https: { alias: 'S', type: 'boolean', describe: 'serve HTTPS/WSS; a self-signed pair is generated when key or cert is missing' },
  key: { type: 'string', describe: 'TLS private key file (PEM) used with --https' },
  cert: { type: 'string', describe: 'TLS certificate file (PEM) used with --https' },
  path: { type: 'string', describe: 'URL path of the Socket.IO endpoint, for deployments under a prefix' },
  corsOrigin: { type: 'string', describe: 'origins allowed for polling and WebSocket: * or a comma-separated list' },
  verbose: { alias: 'v', type: 'boolean', describe: 'debug logging: every verb with namespace, socket id and room' },
  logFormat: { type: 'string', describe: 'log output format', choices: LOG_FORMATS },
  maxHttpBufferSize: { type: 'number', describe: 'largest Socket.IO message from a client, in bytes' },
  maxPublishBody: { type: 'number', describe: 'largest POST /bus-message body, in bytes' },
  redis: { alias: 'r', type: 'string', describe: 'cluster mode: Redis as host:port, redis:// or rediss:// URL, or a Consul service name (no ":")' },
  database: { alias: 'd', type: 'number', describe: 'Redis database number' },
  consulHost: { alias: 'c', type: 'string', describe: 'Consul URL for looking up a --redis service name' },
  clientToken: { type: 'string', secret: true, describe: 'require this token in every Socket.IO handshake (auth.token, or ?token= for 1.x/2.x clients)' },
  publishToken: { type: 'string', secret: true, describe: 'require "Authorization: Bearer TOKEN" on POST /bus-message' },
  console: { type: 'boolean', describe: 'serve the live console page at /console (--no-console turns it off)' },
  maxIdLength: { type: 'number', describe: 'longest room, lobby id or name, in characters' },
  maxRoomsPerSocket: { type: 'number', describe: 'most rooms one socket may join' },
  maxConnections: { type: 'number', describe: 'most simultaneous clients per node; 0 for no limit' },
  eventRate: { type: 'number', describe: 'events per second one socket may send, sustained; 0 for no limit' },
  eventBurst: { type: 'number', describe: 'events one socket may send in a burst above --event-rate' },
  maxQueuedBytes: { type: 'number', describe: 'bytes queued for a client that stopped reading before it is disconnected' },
  shutdownGrace: { type: 'number', describe: 'on SIGTERM/SIGINT, longest wait for in-flight requests before closing, in ms' },
  metrics: { type: 'boolean', describe: 'serve Prometheus metrics at /metrics (--no-metrics turns them off)' },
  metricsPort: { type: 'number', describe: 'serve /metrics on this port instead of the service port; 0 for the service port' },
};

/** Defaults: each keeps the 2018 service's behaviour where it had one. */
export const DEFAULT_OPTIONS: ServiceOptions = {
  port: 3000, // TCP port
  host: '0.0.0.0', // bind address
  https: false,
  key: path.join(CERT_DIR, 'server.pem'), // file path
  cert: path.join(CERT_DIR, 'server.crt'), // file path
  path: '/socket.io', // URL path
  corsOrigin: '*', // any origin, as socket.io 1.x allowed
  verbose: false,
  logFormat: 'json',
  maxHttpBufferSize: 1_000_000, // bytes (Socket.IO's own default)
  maxPublishBody: 1_000_000, // bytes
  redis: undefined, // single node, in memory
  database: 0, // Redis database index
  consulHost: 'https://consul.service.consul:8500', // URL
  clientToken: undefined, // no token: any client may connect, as in 2018
  publishToken: undefined, // no token: anyone may POST, as in 2018
  console: true,
  maxIdLength: 512, // characters
  maxRoomsPerSocket: 1000, // rooms
  maxConnections: 0, // clients per node; 0 = no limit
  eventRate: 0, // events/s per socket; 0 = no limit
  eventBurst: 100, // events
  maxQueuedBytes: 4_000_000, // bytes per client
  shutdownGrace: 10_000, // ms
  metrics: true,
  metricsPort: 0, // TCP port; 0 = the service port
};

/** Environment variable that sets an option, e.g. `corsOrigin` → `WS_CORS_ORIGIN`. */
export function envName(option: string): string {
  return 'WS_' + option.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
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
  for (const [name, spec] of Object.entries(OPTION_SPECS)) {
    const variable = envName(name);
    const value = env[variable];
    if (spec.type === 'boolean' && value !== undefined) env[variable] = String(parseBoolean(variable, value));
  }
}

function integer(name: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new OptionError(`--${kebab(name)} must be an integer from ${min} to ${max}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return n;
}

/** The CLI spelling of an option, e.g. `corsOrigin` → `cors-origin`. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new OptionError(`--${kebab(name)} must not be empty`);
  }
  return value;
}

function parseOrigins(value: unknown): '*' | string[] {
  if (Array.isArray(value)) return value.length === 0 ? '*' : value.map(String);
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
  return origins;
}

/**
 * Merges `input` over the defaults and checks every value once, at start.
 * @throws {OptionError} naming the first bad value.
 */
export function resolveOptions(input: Partial<Record<keyof ServiceOptions, unknown>> = {}): ServiceOptions {
  const raw = { ...DEFAULT_OPTIONS, ...dropUndefined(input) };
  const socketPath = nonEmpty('path', raw.path);
  if (!socketPath.startsWith('/')) throw new OptionError(`--path must start with /, got ${JSON.stringify(socketPath)}`);
  if (!LOG_FORMATS.includes(raw.logFormat as LogFormat)) {
    throw new OptionError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(raw.logFormat)}`);
  }
  return {
    port: integer('port', raw.port, 0, 65535),
    host: nonEmpty('host', raw.host),
    https: Boolean(raw.https),
    key: nonEmpty('key', raw.key),
    cert: nonEmpty('cert', raw.cert),
    path: socketPath.length > 1 ? socketPath.replace(/\/+$/, '') : socketPath,
    corsOrigin: parseOrigins(raw.corsOrigin),
    verbose: Boolean(raw.verbose),
    logFormat: raw.logFormat as LogFormat,
    maxHttpBufferSize: integer('maxHttpBufferSize', raw.maxHttpBufferSize, 1024, 1_073_741_824),
    maxPublishBody: integer('maxPublishBody', raw.maxPublishBody, 1024, 1_073_741_824),
    redis: raw.redis === undefined || raw.redis === '' ? undefined : redisTarget(raw.redis),
    database: integer('database', raw.database, 0, 65535),
    consulHost: httpUrl('consulHost', raw.consulHost),
    clientToken: optionalSecret('clientToken', raw.clientToken),
    publishToken: optionalSecret('publishToken', raw.publishToken),
    console: Boolean(raw.console),
    maxIdLength: integer('maxIdLength', raw.maxIdLength, 1, 1_000_000),
    maxRoomsPerSocket: integer('maxRoomsPerSocket', raw.maxRoomsPerSocket, 1, 1_000_000),
    maxConnections: integer('maxConnections', raw.maxConnections, 0, 10_000_000),
    eventRate: integer('eventRate', raw.eventRate, 0, 1_000_000),
    eventBurst: integer('eventBurst', raw.eventBurst, 1, 1_000_000),
    maxQueuedBytes: integer('maxQueuedBytes', raw.maxQueuedBytes, 65_536, 1_073_741_824),
    shutdownGrace: integer('shutdownGrace', raw.shutdownGrace, 0, 600_000),
    metrics: Boolean(raw.metrics),
    metricsPort: integer('metricsPort', raw.metricsPort, 0, 65535),
  };
}

function redisTarget(value: unknown): string {
  const text = nonEmpty('redis', value).trim();
  try {
    parseRedisTarget(text);
  } catch (error) {
    throw new OptionError((error as Error).message);
  }
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

/** The configuration as an operator may see it: secrets masked, unset options as null. */
export function printableConfig(options: ServiceOptions): Record<string, unknown> {
  return Object.fromEntries(
    (Object.keys(OPTION_SPECS) as (keyof ServiceOptions)[]).map((name) => {
      const value = options[name];
      return [name, value === undefined ? null : OPTION_SPECS[name].secret ? '********' : value];
    }),
  );
}

/** The README's table of options, one row per option: the README is checked against it. */
export function optionsTable(): string {
  const rows = (Object.keys(OPTION_SPECS) as (keyof ServiceOptions)[]).map((name) => {
    const spec = OPTION_SPECS[name];
    const flag = (spec.alias ? `-${spec.alias}, ` : '') + `--${kebab(name)}`;
    const fallback = DEFAULT_OPTIONS[name];
    const shown = name === 'key' || name === 'cert' ? `certs/${path.basename(String(fallback))}` : fallback === undefined ? '(unset)' : Array.isArray(fallback) ? fallback.join(',') : String(fallback);
    const choices = spec.choices ? ` (${spec.choices.join(', ')})` : '';
    return `| \`${flag}\` | \`${envName(name)}\` | \`${shown}\` | ${spec.describe}${choices} |`;
  });
  return ['| option | environment | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
