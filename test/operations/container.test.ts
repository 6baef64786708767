import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connect, freePort, json } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const run = promisify(execFile);

/** The Dockerfile's instructions, continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

describe('Dockerfile', () => {
  it('builds in two stages on Node 20 and runs production dependencies as a non-root user under an init', () => {
    expect(instructions.filter((line) => /^FROM node:20/.test(line))).toHaveLength(2);
    expect(instructions).toContain('RUN npm ci --omit=dev && npm cache clean --force');
    expect(instructions).toContain('USER node');
    expect(instructions).toContain('EXPOSE 3000');
    expect(instructions).toContain('ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/server.js"]');
    expect(instructions.find((line) => line.startsWith('HEALTHCHECK'))).toMatch(/CMD \["node", "dist\/healthcheck\.js"\]$/);
    for (const line of instructions.filter((l) => l.startsWith('COPY') && !l.includes('--from'))) {
      for (const source of line.split(/\s+/).slice(1, -1)) expect(fs.existsSync(path.join(ROOT, source)), source).toBe(true);
    }
  });

  it("starts as the image would: npm ci --omit=dev, then the entrypoint and the health check", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-image-'));
    for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, timeout: 120_000 });
    fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'certs'));
    expect(fs.existsSync(path.join(dir, 'node_modules', 'vitest'))).toBe(false);

    const port = await freePort();
    const env = { ...process.env, NODE_ENV: 'production', WS_HOST: '127.0.0.1', WS_PORT: String(port) };
    const server = spawn(process.execPath, ['dist/server.js', '--https', '-v'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('Listening on port HTTPS/') && resolve());
        server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      expect(fs.statSync(path.join(dir, 'certs', 'server.pem')).mode & 0o777).toBe(0o600);
      const health = await run(process.execPath, ['dist/healthcheck.js'], { cwd: dir, env: { ...env, WS_HTTPS: 'true' } }).then(() => 0, (error: { code: number }) => error.code);
      expect(health).toBe(0);
      const wrongScheme = await run(process.execPath, ['dist/healthcheck.js'], { cwd: dir, env }).then(() => 0, (error: { code: number }) => error.code);
      expect(wrongScheme).toBe(1);

      const url = `https://127.0.0.1:${port}`;
      const a = await connect('v4', url, '/layout', { rejectUnauthorized: false });
      const b = await connect('v1', url, '/layout', { rejectUnauthorized: false });
      await a.request('JOIN', json({ room: 'image', name: 'a' }));
      b.emit('NOTIFY', json({ room: 'image', message: 'from the image' }));
      expect(await a.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'image', message: 'from the image' });
    } finally {
      server.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('docker-compose.yml', () => {
  const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { image?: string; build?: string; environment?: Record<string, string>; labels?: string[]; depends_on?: string[]; command?: string[] }>;
  };

  it('runs Traefik, Redis and two nodes linked through that Redis', () => {
    const services = compose.services;
    expect(services.traefik.image).toMatch(/^traefik:/);
    expect(services.traefik.command).toContain('--providers.docker.exposedbydefault=false');
    expect(services.redis.image).toMatch(/^redis:/);
    const nodes = Object.entries(services).filter(([, service]) => service.build === '.');
    expect(nodes.map(([name]) => name)).toEqual(['ws1', 'ws2']);
    for (const [, node] of nodes) {
      expect(node.environment?.WS_REDIS).toBe('redis:6379');
      expect(node.depends_on).toContain('redis');
    }
  });

  it('gives Traefik the labels it needs: one service, port 3000, sticky cookie, health check on /healthcheck', () => {
    const labels = new Map(compose.services.ws1.labels!.map((label) => label.split('=', 2) as [string, string]));
    expect(compose.services.ws2.labels).toEqual(compose.services.ws1.labels);
    expect(labels.get('traefik.enable')).toBe('true');
    const service = 'traefik.http.services.websocket.loadbalancer';
    expect(labels.get(`${service}.server.port`)).toBe('3000');
    expect(labels.get(`${service}.sticky.cookie`)).toBe('true');
    expect(labels.get(`${service}.healthcheck.path`)).toBe('/healthcheck');
    expect(labels.get('traefik.http.routers.websocket.entrypoints')).toBe('web');
    expect(compose.services.traefik.command).toContain('--entrypoints.web.address=:80');
  });
});
