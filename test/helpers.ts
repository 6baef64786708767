import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { io as ioV4, type Socket as SocketV4 } from 'socket.io-client';
import ioV1 from 'socket.io-client-v1';
import ioV2 from 'socket.io-client-v2';
import { afterEach, type TestContext } from 'vitest';
import { createServer, type CreateServerOptions, type WebsocketService } from '../src';
import type { Logger } from '../src/logger';

/** The client generations the service owes compatibility to. */
export const VERSIONS = ['v1', 'v2', 'v4'] as const;
export type ClientVersion = (typeof VERSIONS)[number];
export const TRANSPORTS = ['websocket', 'polling'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Every version over every transport, for `describe.each`. */
export const WIRES = VERSIONS.flatMap((version) => TRANSPORTS.map((transport) => ({ version, transport })));

/** What socket.io-client 1.x and 2.x sockets offer (they ship no typings). */
export interface LegacySocket {
  id: string;
  connected: boolean;
  io: { engine: { transport: { name: string } } };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  close(): unknown;
}

/** Every event any namespace sends; each client queues them all from the moment it is made. */
const SERVER_EVENTS = [
  'EVENT', 'CLIENTS', 'ERROR', 'JOINED', 'PEERS', 'LEFT', 'MESSAGE', 'RTCSIGNAL', 'EVENTS', 'UPDATES', 'STATUS',
];

export const EVENT_TIMEOUT = 10_000; // ms to wait for something that must arrive (on a busy machine too: it only bounds a failing wait)
export const QUIET_PERIOD = 250; // ms to wait before concluding that nothing arrived

/** A logger whose records a test can read. */
export function memoryLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line)) });
  return { logger, records };
}

export interface TestServer {
  service: WebsocketService;
  url: string;
  port: number;
  records: Record<string, unknown>[];
}

const cleanups: (() => unknown)[] = [];

/** Socket.IO servers of this test process, for {@link TestClient.publicId}. */
const liveServers = new Set<WebsocketService['io']>();

/** Lets clients of a service built without {@link startServer} find their public ids. */
export function registerService(service: WebsocketService): void {
  liveServers.add(service.io);
}
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts a service in-process on a free loopback port; closed after the test. */
export async function startServer(options: CreateServerOptions = {}): Promise<TestServer> {
  const { logger, records } = memoryLogger();
  const service = createServer({ port: 0, host: '127.0.0.1', ...options }, { logger });
  const { port } = await service.listen();
  registerService(service);
  cleanups.push(() => {
    liveServers.delete(service.io);
    return service.close();
  });
  const scheme = options.https ? 'https' : 'http';
  return { service, url: `${scheme}://127.0.0.1:${port}`, port, records };
}

export interface ClientOptions {
  transport?: Transport;
  query?: Record<string, string>;
  /** Socket.IO path when the server uses another. */
  path?: string;
  extraHeaders?: Record<string, string>;
  /** Don't wait for the namespace connection (to see it refused). */
  lazy?: boolean;
  rejectUnauthorized?: boolean;
  /** Socket.IO `auth` (4.x clients only: older ones have no such field). */
  auth?: Record<string, unknown>;
}

/** One client of any generation, with its incoming events queued for the test to read. */
export class TestClient {
  private readonly queues = new Map<string, unknown[][]>();
  private readonly waiters = new Map<string, ((args: unknown[]) => void)[]>();
  readonly connected: Promise<void>;
  /** The namespace connection's refusal, if any. */
  readonly refused: Promise<string>;
  /** The reason of the first disconnection. */
  readonly disconnected: Promise<string>;

  constructor(
    readonly version: ClientVersion,
    readonly nsp: string,
    private readonly socket: SocketV4 | LegacySocket,
  ) {
    for (const event of SERVER_EVENTS) socket.on(event, (...args: unknown[]) => this.push(event, args));
    this.connected = new Promise((resolve) => socket.on('connect', () => resolve()));
    this.disconnected = new Promise((resolve) => socket.on('disconnect', (reason: unknown) => resolve(String(reason))));
    this.refused = new Promise((resolve) => {
      const reason = (error: unknown) => resolve(error instanceof Error ? error.message : String(error));
      // 1.x/2.x report a refused handshake as connect_error and a refused namespace as error.
      socket.on('connect_error', reason);
      if (version !== 'v4') socket.on('error', reason);
    });
  }

  /**
   * The socket's id as the server and its peers know it. Socket.IO 1.x/2.x servers named a
   * namespace's socket `/nsp#engineId`, and Socket.IO 4 keeps that for v3 clients; 1.x clients
   * themselves report the bare engine id.
   */
  get id(): string {
    const id = this.socket.id as string;
    return this.version === 'v4' || this.nsp === '/' || id.startsWith(`${this.nsp}#`) ? id : `${this.nsp}#${id}`;
  }

  /**
   * The public id the server gave this socket: what its peers, the console and the logs see.
   * `id` is Socket.IO's, which for 1.x/2.x clients carries the Engine.IO session id.
   */
  get publicId(): string {
    for (const io of liveServers) {
      const socket = io.of(this.nsp).sockets.get(this.id);
      if (socket) return socket.data.id as string;
    }
    throw new Error(`no server holds socket ${this.id} on ${this.nsp}`);
  }

  get transport(): string {
    return (this.socket as LegacySocket).io.engine.transport.name;
  }

  private push(event: string, args: unknown[]) {
    const waiter = this.waiters.get(event)?.shift();
    if (waiter) waiter(args);
    else this.queues.set(event, [...(this.queues.get(event) ?? []), args]);
  }

  emit(event: string, ...args: unknown[]): void {
    this.socket.emit(event, ...args);
  }

  /** Emits with an acknowledgement callback; resolves with the ack's arguments. */
  request(event: string, ...args: unknown[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${event} in ${EVENT_TIMEOUT} ms`)), EVENT_TIMEOUT);
      this.socket.emit(event, ...args, (...reply: unknown[]) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  /** Emits with an ack callback and resolves with what happened within the quiet period: acked or not. */
  async acked(event: string, ...args: unknown[]): Promise<boolean> {
    let acked = false;
    this.socket.emit(event, ...args, () => {
      acked = true;
    });
    await sleep(QUIET_PERIOD);
    return acked;
  }

  /**
   * The arguments of the next `event`, waiting for it up to `timeoutMs`. A wait that times out
   * withdraws its claim, so that the event, when it comes, goes to the next reader.
   */
  next(event: string, timeoutMs = EVENT_TIMEOUT): Promise<unknown[]> {
    const queued = this.queues.get(event);
    if (queued?.length) return Promise.resolve(queued.shift() as unknown[]);
    return new Promise((resolve, reject) => {
      const waiter = (args: unknown[]) => {
        clearTimeout(timer);
        resolve(args);
      };
      const timer = setTimeout(() => {
        this.waiters.set(event, (this.waiters.get(event) ?? []).filter((other) => other !== waiter));
        reject(new Error(`${this.version} client got no ${event} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(event, [...(this.waiters.get(event) ?? []), waiter]);
    });
  }

  /** The first argument of the next `event`. */
  async nextValue(event: string): Promise<unknown> {
    return (await this.next(event))[0];
  }

  /** Everything received so far for `event`, after a quiet period, and forgets it. */
  async drain(event: string): Promise<unknown[][]> {
    await sleep(QUIET_PERIOD);
    const all = this.queues.get(event) ?? [];
    this.queues.delete(event);
    return all;
  }

  close(): void {
    this.socket.close();
  }
}

/** Connects a client of `version` to `url` + `nsp`, waiting for the namespace connection. */
export async function connect(version: ClientVersion, url: string, nsp: string, options: ClientOptions = {}): Promise<TestClient> {
  const { transport = 'websocket', query, path, extraHeaders, lazy, rejectUnauthorized, auth } = options;
  if (auth && version !== 'v4') throw new Error('only 4.x clients send auth');
  const common = {
    forceNew: true,
    multiplex: false,
    reconnection: false,
    transports: [transport],
    ...(path ? { path } : {}),
    ...(extraHeaders ? { extraHeaders } : {}),
    ...(rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  };
  let socket: SocketV4 | LegacySocket;
  if (version === 'v4') {
    socket = ioV4(url + nsp, { ...common, query, ...(auth ? { auth } : {}) });
  } else {
    const search = query ? '?' + new URLSearchParams(query).toString() : '';
    socket = (version === 'v1' ? ioV1 : ioV2)(url + nsp + search, common);
  }
  const client = new TestClient(version, nsp, socket);
  cleanups.push(() => client.close());
  if (!lazy) {
    await Promise.race([
      client.connected,
      client.refused.then((reason) => Promise.reject(new Error(`${version} connection to ${nsp} refused: ${reason}`))),
      sleep(EVENT_TIMEOUT).then(() => Promise.reject(new Error(`${version} client did not connect to ${nsp}`))),
    ]);
  }
  return client;
}

/**
 * A socket.io-client 4 WebSocket client for suites that share one server between concurrent
 * tests: it is closed when *its* test finishes, where `connect()` closes everything after each
 * test. Resolves once the namespace is connected; fails if it is refused or takes too long.
 */
export async function connectForTest(ctx: TestContext, url: string, nsp: string, query?: Record<string, string>): Promise<TestClient> {
  const socket = ioV4(url + nsp, { forceNew: true, multiplex: false, reconnection: false, transports: ['websocket'], ...(query ? { query } : {}) });
  const client = new TestClient('v4', nsp, socket);
  ctx.onTestFinished(() => client.close());
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connected,
      client.refused.then((reason) => Promise.reject(new Error(`connection to ${nsp} refused: ${reason}`))),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no connection to ${nsp}`)), EVENT_TIMEOUT);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return client;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The JSON string form that the README documents for `/layout` and `/bus` requests. */
export const json = (value: unknown): string => JSON.stringify(value);

/** The service's CLI, run as a child process by {@link startCli}. */
export const SERVER_CLI = path.resolve(__dirname, '..', 'dist', 'server.js');

/** A CLI server in a child process. */
export interface CliServer {
  child: ChildProcess;
  port: number;
  /** Every line it printed so far, standard output and error. */
  lines: string[];
  /** Its JSON log records so far. */
  records(): Record<string, unknown>[];
  /** How and when it exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Runs `node dist/server.js` (or `script`) on a free loopback port and waits for its start line; killed after the test. */
export function startCli(args: string[], env: Record<string, string> = {}, script = SERVER_CLI): Promise<CliServer> {
  const child = spawn(process.execPath, [script, '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const records = () => lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  return new Promise((resolve, reject) => {
    const collect = (stream: NodeJS.ReadableStream, onLine: (line: string) => void) => {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          onLine(line);
        }
      });
    };
    collect(child.stdout!, (line) => {
      const match = / listening on https?:\/\/[^ ]+:(\d+)/.exec(line);
      if (match) resolve({ child, port: Number(match[1]), lines, records, exited });
    });
    collect(child.stderr!, () => {});
    exited.then(() => reject(new Error(`server exited before listening:\n${lines.join('\n')}`)));
  });
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
