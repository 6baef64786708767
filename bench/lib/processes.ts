import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Command, PointCommand, PointResult, Reply, SetupCommand, SetupResult } from './protocol';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BENCH_DIST = path.join(ROOT, 'dist-bench');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, child?: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`${what}: process exited with ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

/** The servers under test. */
export type ServerKind = 'ours' | 'bare' | 'raw';

export const SERVER_LABELS: Record<ServerKind, string> = {
  ours: 'websocket-service',
  bare: 'bare Socket.IO 4',
  raw: 'raw ws',
};

export interface RunningProcess {
  name: string;
  pid: number;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, graceMs: number): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
}

export interface ServerOptions {
  redis?: string;
  /** Write a CPU profile here (`--cpu-prof`), named after the server. */
  profileDir?: string;
  profileName?: string;
  logDir: string;
}

/** Starts a server under test as its own process, on a free loopback port. */
export async function startServer(kind: ServerKind, options: ServerOptions): Promise<RunningProcess> {
  const port = await freePort();
  const nodeArgs = ['--expose-gc', '-r', path.join(BENCH_DIST, 'servers', 'gc-preload.js')];
  if (options.profileDir) {
    fs.mkdirSync(options.profileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.profileDir, '--cpu-prof-name', `${options.profileName ?? kind}.cpuprofile`);
  }
  let script: string[];
  if (kind === 'ours') {
    script = [path.join(ROOT, 'dist', 'server.js'), '--port', String(port), '--host', '127.0.0.1'];
    if (options.redis) script.push('--redis', options.redis);
  } else {
    script = [path.join(BENCH_DIST, 'servers', kind === 'bare' ? 'bare-socketio.js' : 'raw-ws.js'), '--port', String(port)];
    if (options.redis) script.push('--redis', options.redis);
  }
  fs.mkdirSync(options.logDir, { recursive: true });
  const log = fs.openSync(path.join(options.logDir, `${options.profileName ?? kind}-${port}.log`), 'w');
  const child = spawn(process.execPath, [...nodeArgs, ...script], { stdio: ['ignore', log, log], cwd: ROOT });
  fs.closeSync(log);
  const pid = child.pid as number;
  const probe = kind === 'ours' && options.redis ? '/readyz' : '/healthcheck';
  await waitFor(`${kind} server on ${port}`, 15_000, async () => (await fetch(`http://127.0.0.1:${port}${probe}`)).status === 200, child);
  return { name: kind, pid, port, child, stop: stopper(child, 20_000) };
}

/** A throw-away redis-server on loopback, without persistence. */
export async function startRedis(): Promise<RunningProcess> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(`redis-server on ${port}`, 10_000, () => new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  }), child);
  return { name: 'redis', pid: child.pid as number, port, child, stop: stopper(child, 5_000) };
}

/** A load generator process, driven over IPC. */
export class Generator {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly child: ChildProcess;

  constructor() {
    this.child = fork(path.join(BENCH_DIST, 'generator.js'), [], { execArgv: ['--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`generator: ${reply.error}`));
    });
    this.child.on('exit', (code) => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`generator exited with ${code}`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  private call(command: Command, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`generator: ${command.op} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ id, command });
    });
  }

  setup(command: Omit<SetupCommand, 'op'>): Promise<SetupResult> {
    return this.call({ op: 'setup', ...command }, 120_000) as Promise<SetupResult>;
  }

  point(command: Omit<PointCommand, 'op'>): Promise<PointResult> {
    return this.call({ op: 'point', ...command }, command.warmupMs + command.durationMs + 30_000) as Promise<PointResult>;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.call({ op: 'close' }, 30_000).catch(() => undefined);
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
