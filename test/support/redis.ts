import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort, sleep } from '../helpers';

/** Why the Redis suites cannot run here, or undefined when they can. */
export const redisMissing: string | undefined =
  spawnSync('redis-server', ['--version']).status === 0 ? undefined : 'redis-server is not on PATH (Debian package redis-server)';

if (redisMissing) {
  if (process.env.CI === 'true') throw new Error(`cluster suite cannot run in CI: ${redisMissing}`);
  console.warn(`Skipping the cluster suite: ${redisMissing}`);
}

/** What a {@link RedisServer} is started with. */
export interface RedisServerOptions {
  /** `--requirepass`: clients must AUTH with it. */
  password?: string;
}

/** A throw-away redis-server on loopback, without persistence. */
export class RedisServer {
  private process?: ChildProcess;
  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = await RedisServer.reserve(options);
    await server.start();
    return server;
  }

  /** A free port for a Redis that is not started yet. */
  static async reserve(options: RedisServerOptions = {}): Promise<RedisServer> {
    return new RedisServer(await freePort(), options);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (this.options.password) args.push('--requirepass', this.options.password);
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.process = child;
    for (let i = 0; i < 100; i++) {
      if (await this.accepts()) return;
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      await sleep(50);
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** Kills it hard, as a crash would. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Freezes it (SIGSTOP): its connections stay open, and nothing answers, as on a hung host. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  /** Lets a paused Redis go on (SIGCONT). */
  resume(): void {
    this.process?.kill('SIGCONT');
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect(this.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }
}

/**
 * A TCP relay in front of a port, which can turn the connections it carries into a black hole:
 * open, silent, as when a firewall or NAT forgets a flow, or cut them, as when a link goes down.
 * Connections made afterwards are carried, unless it is cut.
 */
export class TcpRelay {
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private server?: net.Server;
  private down = false;
  port = 0;

  constructor(private targetPort: number) {}

  /** Carries the connections made from now on to another port, as a load balancer would. */
  retarget(port: number): void {
    this.targetPort = port;
  }

  /** Resets every connection open now, and every one tried until {@link restore}. */
  cut(): void {
    this.down = true;
    for (const [inbound, outbound] of this.pairs) {
      inbound.resetAndDestroy();
      outbound.resetAndDestroy();
    }
    this.pairs.clear();
  }

  /** Carries new connections again after {@link cut}. */
  restore(): void {
    this.down = false;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = net.createServer((inbound) => {
      if (this.down) return void inbound.on('error', () => {}).resetAndDestroy();
      const outbound = net.connect(this.targetPort, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [inbound, outbound];
      this.pairs.add(pair);
      inbound.pipe(outbound).on('error', () => {});
      outbound.pipe(inbound).on('error', () => {});
      const drop = () => {
        inbound.destroy();
        outbound.destroy();
        this.pairs.delete(pair);
      };
      inbound.on('error', drop).on('close', drop);
      outbound.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Stops carrying bytes, both ways, on every connection open now, without closing any. */
  swallowOpenConnections(): void {
    for (const [inbound, outbound] of this.pairs) {
      inbound.unpipe(outbound);
      outbound.unpipe(inbound);
      inbound.pause();
      outbound.pause();
    }
  }

  async close(): Promise<void> {
    for (const [inbound, outbound] of this.pairs) {
      inbound.destroy();
      outbound.destroy();
    }
    this.pairs.clear();
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }
}

/** Resolves once `url`'s /readyz answers 200, or fails after `timeoutMs`. */
export async function waitReady(url: string, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const response = await fetch(`${url}/readyz`).catch(() => undefined);
    if (response?.status === 200) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${url} not ready after ${timeoutMs} ms: ${await response?.text()}`);
    await sleep(50);
  }
}
