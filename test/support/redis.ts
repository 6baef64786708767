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

/** A throw-away redis-server on loopback, without persistence. */
export class RedisServer {
  private process?: ChildProcess;
  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = await RedisServer.reserve();
    await server.start();
    return server;
  }

  /** A free port for a Redis that is not started yet. */
  static async reserve(): Promise<RedisServer> {
    return new RedisServer(await freePort());
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
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
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
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
