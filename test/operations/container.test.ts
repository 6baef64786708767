import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connect, freePort, json, startCli } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const run = promisify(execFile);

/** The Dockerfile's instructions, continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

const HEALTHCHECK_SCRIPT = path.join(ROOT, 'dist', 'healthcheck.js');

/** Exit code of `node dist/healthcheck.js` (of `dir`) run with exactly `env`: no WEBSOCKET_SERVICE_* unless given. */
function healthcheck(env: Record<string, string>, script = HEALTHCHECK_SCRIPT): Promise<number> {
  return run(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 }).then(
    () => 0,
    (error: { code: number }) => error.code,
  );
}

/** A temporary directory to serve as TMPDIR: where the server writes its URL and the check reads it. */
function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ws-tmp-'));
}

/** Docker's duration syntax (30s, 1m30s, 500ms) in ms. */
function duration(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  expect(parts.map((part) => part[0]).join(''), text).toBe(text);
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * units[unit], 0);
}

describe('Dockerfile', () => {
  it('builds in two stages on Node 24 LTS and runs production dependencies as a non-root user under an init', () => {
    expect(instructions.filter((line) => line.startsWith('FROM'))).toEqual(['FROM node:24-bookworm-slim AS build', 'FROM node:24-bookworm-slim']);
    expect(instructions).toContain('RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force');
    expect(instructions).toContain('USER node');
    expect(instructions).toContain('EXPOSE 3000');
    expect(instructions).toContain('ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/server.js"]');
    expect(instructions.find((line) => line.startsWith('HEALTHCHECK'))).toMatch(/CMD \["node", "dist\/healthcheck\.js"\]$/);
    expect(instructions.find((line) => line.startsWith('ENV'))).not.toMatch(/\bTMPDIR=/);
    for (const line of instructions.filter((l) => l.startsWith('COPY') && !l.includes('--from'))) {
      for (const source of line.split(/\s+/).slice(1, -1)) expect(fs.existsSync(path.join(ROOT, source)), source).toBe(true);
    }
  });

  it('probes every second while starting, so that a node is healthy about a second after it listens', () => {
    const line = instructions.find((l) => l.startsWith('HEALTHCHECK'))!;
    const flags = Object.fromEntries([...line.matchAll(/--([a-z-]+)=(\S+)/g)].map(([, name, value]) => [name, value]));
    expect(duration(flags['start-interval'])).toBeLessThanOrEqual(2000);
    expect(duration(flags['start-period'])).toBeGreaterThanOrEqual(10_000);
    expect(duration(flags.timeout)).toBeLessThan(duration(flags.interval));
    expect(Number(flags.retries)).toBeGreaterThanOrEqual(2);
  });

  it("supports, in package.json engines, the image's Node and the Node running this suite", () => {
    const engines = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const minimum = Number(/^>=(\d+)$/.exec(engines)?.[1]);
    const imageMajor = Number(/^FROM node:(\d+)-/.exec(instructions.find((line) => line.startsWith('FROM'))!)?.[1]);
    expect(imageMajor).toBeGreaterThanOrEqual(minimum);
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(minimum);
    expect(minimum).toBeLessThanOrEqual(20);
  });

  it("starts as the image would: npm ci --omit=dev, then the entrypoint and the health check", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-image-'));
    for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, timeout: 120_000 });
    fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'certs'));
    expect(fs.existsSync(path.join(dir, 'node_modules', 'vitest'))).toBe(false);

    const port = await freePort();
    const tmp = tmpdir();
    // The README's own example: `docker run IMAGE --https -v`, HTTPS from a flag, not from WEBSOCKET_SERVICE_HTTPS.
    const env = { ...process.env, NODE_ENV: 'production', WEBSOCKET_SERVICE_HOST: '127.0.0.1', WEBSOCKET_SERVICE_PORT: String(port), TMPDIR: tmp };
    const server = spawn(process.execPath, ['dist/server.js', '--https', '-v'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => server.on('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.on('data', (chunk: Buffer) => chunk.toString().includes(' listening on https://') && resolve());
        server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      expect(fs.statSync(path.join(dir, 'certs', 'server.pem')).mode & 0o777).toBe(0o600);
      expect(await healthcheck({ TMPDIR: tmp }, path.join(dir, 'dist', 'healthcheck.js'))).toBe(0);

      const url = `https://127.0.0.1:${port}`;
      const a = await connect('v4', url, '/layout', { rejectUnauthorized: false });
      const b = await connect('v1', url, '/layout', { rejectUnauthorized: false });
      await a.request('JOIN', json({ room: 'image', name: 'a' }));
      b.emit('NOTIFY', json({ room: 'image', message: 'from the image' }));
      expect(await a.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'image', message: 'from the image' });

      server.kill('SIGTERM');
      await exited;
      expect(await healthcheck({ TMPDIR: tmp, WEBSOCKET_SERVICE_PORT: String(port), WEBSOCKET_SERVICE_HTTPS: 'true' }, path.join(dir, 'dist', 'healthcheck.js'))).toBe(1);
    } finally {
      server.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('health check', () => {
  it('passes for a server started with flags only (--https -p 0) and fails once it has closed', async () => {
    const tmp = tmpdir();
    const cli = await startCli(['--https'], { TMPDIR: tmp });
    expect(fs.readFileSync(path.join(tmp, 'websocket-service.url'), 'utf8').trim()).toBe(`https://127.0.0.1:${cli.port}`);
    expect(await healthcheck({ TMPDIR: tmp })).toBe(0);

    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    expect(fs.existsSync(path.join(tmp, 'websocket-service.url'))).toBe(false);
    // With the URL gone, the check falls back to the environment: here the closed server's port.
    expect(await healthcheck({ TMPDIR: tmp, WEBSOCKET_SERVICE_PORT: String(cli.port), WEBSOCKET_SERVICE_HTTPS: 'true' })).toBe(1);
  }, 30_000);

  it('falls back to WEBSOCKET_SERVICE_PORT and WEBSOCKET_SERVICE_HTTPS when no server wrote its URL', async () => {
    const cli = await startCli(['--https'], { TMPDIR: tmpdir() });
    const empty = tmpdir();
    expect(await healthcheck({ TMPDIR: empty, WEBSOCKET_SERVICE_PORT: String(cli.port), WEBSOCKET_SERVICE_HTTPS: 'true' })).toBe(0);
    expect(await healthcheck({ TMPDIR: empty, WEBSOCKET_SERVICE_PORT: String(cli.port) })).toBe(1);
  }, 30_000);

  it('leaves the URL of a server that started since in place', async () => {
    const tmp = tmpdir();
    const first = await startCli([], { TMPDIR: tmp });
    const second = await startCli(['--https'], { TMPDIR: tmp });
    first.child.kill('SIGTERM');
    await first.exited;
    expect(fs.readFileSync(path.join(tmp, 'websocket-service.url'), 'utf8').trim()).toBe(`https://127.0.0.1:${second.port}`);
    expect(await healthcheck({ TMPDIR: tmp })).toBe(0);
  }, 30_000);
});

interface ComposeService {
  image?: string;
  hostname?: string;
  build?: string;
  restart?: string;
  environment?: Record<string, string>;
  labels?: string[];
  depends_on?: string[];
  command?: string[];
  ports?: string[];
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number; start_period: string; start_interval: string };
}

/** A compose file with its `<<: *anchor` merges applied, as Compose reads it. */
function readCompose(file: string): { services: Record<string, ComposeService> } {
  return parse(fs.readFileSync(path.join(ROOT, file), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
}

function labelsOf(service: ComposeService): Map<string, string> {
  return new Map(service.labels!.map((label) => label.split(/=(.*)/s, 2) as [string, string]));
}

/** Traefik rule → whether a request for `path` matches it; only the matchers this stack uses. */
function matches(rule: string, path: string): boolean {
  const js = rule
    .replace(/PathPrefix\(`([^`]*)`\)/g, (_all, prefix: string) => JSON.stringify(path.startsWith(prefix)))
    .replace(/Path\(`([^`]*)`\)/g, (_all, exact: string) => JSON.stringify(path === exact));
  expect(js, rule).toMatch(/^[\s!()&|truefals]+$/);
  return Boolean(new Function(`return ${js}`)());
}

describe('docker-compose.yml', () => {
  const compose = readCompose('docker-compose.yml');
  const nodes = Object.entries(compose.services).filter(([, service]) => service.image === compose.services.ws1.image);

  it('runs Traefik, Redis and two nodes linked through that Redis, every one restarted when it dies', () => {
    const services = compose.services;
    expect(services.traefik.image).toMatch(/^traefik:/);
    expect(services.traefik.command).toContain('--providers.docker.exposedbydefault=false');
    expect(services.redis.image).toMatch(/^redis:/);
    expect(nodes.map(([name]) => name)).toEqual(['ws1', 'ws2']);
    for (const [, node] of nodes) {
      expect(node.environment?.WEBSOCKET_SERVICE_REDIS).toBe('redis:6379');
      expect(node.depends_on).toContain('redis');
    }
    for (const [name, service] of Object.entries(services)) expect(['always', 'unless-stopped'], name).toContain(service.restart);
  });

  it('lets the nodes relay requests to each other at their default advertise URL: the host name, which is the service name', () => {
    for (const [name, node] of nodes) {
      expect(node.hostname, name).toBe(name);
      expect(node.environment?.WEBSOCKET_SERVICE_ADVERTISE_URL, name).toBeUndefined();
      expect(node.environment?.WEBSOCKET_SERVICE_PORT, name).toBe('3000');
    }
  });

  it('builds one image, once, and runs it on both nodes', () => {
    const built = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);
    expect(built.map(([name]) => name)).toEqual(['ws1']);
    expect(compose.services.ws1.build).toBe('.');
    expect(compose.services.ws1.image).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
    expect(compose.services.ws2.image).toBe(compose.services.ws1.image);
  });

  it('probes the nodes every second while they start, so that Traefik routes to them within seconds', () => {
    for (const [name, node] of nodes) {
      const check = node.healthcheck!;
      expect(check.test, name).toEqual(['CMD', 'node', 'dist/healthcheck.js']);
      expect(duration(check.start_interval)).toBeLessThanOrEqual(2000);
      expect(duration(check.start_period)).toBeGreaterThanOrEqual(10_000);
      expect(duration(check.timeout)).toBeLessThan(duration(check.interval));
      expect(check.retries).toBeGreaterThanOrEqual(2);
    }
  });

  it('gives Traefik the labels it needs: one service, port 3000, sticky cookie, health check on /healthcheck', () => {
    const labels = labelsOf(compose.services.ws1);
    expect(compose.services.ws2.labels).toEqual(compose.services.ws1.labels);
    expect(labels.get('traefik.enable')).toBe('true');
    const service = 'traefik.http.services.websocket.loadbalancer';
    expect(labels.get(`${service}.server.port`)).toBe('3000');
    expect(labels.get(`${service}.sticky.cookie`)).toBe('true');
    expect(labels.get(`${service}.sticky.cookie.httponly`)).toBe('true');
    expect(labels.get(`${service}.healthcheck.path`)).toBe('/healthcheck');
    expect(labels.get('traefik.http.routers.websocket.entrypoints')).toBe('web');
    expect(compose.services.traefik.command).toContain('--entrypoints.web.address=:80');
  });

  it('keeps /console and /metrics off the public entrypoint: metrics on their own port, the console on loopback behind its token', () => {
    const labels = labelsOf(compose.services.ws1);
    const env = compose.services.ws1.environment!;
    expect(Number(env.WEBSOCKET_SERVICE_METRICS_PORT)).toBeGreaterThan(0);
    expect(env.WEBSOCKET_SERVICE_METRICS_PORT).not.toBe(env.WEBSOCKET_SERVICE_PORT);
    expect(labels.get('traefik.http.services.websocket.loadbalancer.server.port')).not.toBe(env.WEBSOCKET_SERVICE_METRICS_PORT);
    expect(env.WEBSOCKET_SERVICE_CONSOLE_TOKEN).toMatch(/^\$\{WEBSOCKET_SERVICE_CONSOLE_TOKEN:\?/);

    const routers = [...labels].filter(([key]) => /^traefik\.http\.routers\.[^.]+\.rule$/.test(key)).map(([key, rule]) => ({ name: key.split('.')[3], rule }));
    const entrypoints = (router: string) => labels.get(`traefik.http.routers.${router}.entrypoints`)!.split(',');
    const publicRouters = routers.filter(({ name }) => entrypoints(name).includes('web'));
    expect(publicRouters.length).toBeGreaterThan(0);
    for (const { rule } of publicRouters) {
      for (const hidden of ['/console', '/console/', '/console/api/state', '/metrics']) expect(matches(rule, hidden), `${rule} ${hidden}`).toBe(false);
      for (const open of ['/socket.io/', '/bus-message/room', '/healthcheck']) expect(matches(rule, open), `${rule} ${open}`).toBe(true);
    }
    // The console's router listens where only this host reaches it.
    const consoleRouters = routers.filter(({ rule }) => matches(rule, '/console/'));
    expect(consoleRouters.length).toBeGreaterThan(0);
    for (const { name, rule } of consoleRouters) {
      expect(matches(rule, '/metrics')).toBe(false);
      for (const entrypoint of entrypoints(name)) {
        const port = compose.services.traefik.command!.find((arg) => arg.startsWith(`--entrypoints.${entrypoint}.address=`))!.split(':').pop();
        const published = compose.services.traefik.ports!.filter((mapping) => mapping.endsWith(`:${port}`));
        expect(published.length).toBeGreaterThan(0);
        for (const mapping of published) expect(mapping).toMatch(/^127\.0\.0\.1:/);
      }
    }
  });

  it('sets the sticky cookie samesite, and secure in the HTTPS variant, which Compose merges over it', () => {
    const cookie = 'traefik.http.services.websocket.loadbalancer.sticky.cookie';
    const plain = labelsOf(compose.services.ws1);
    expect(plain.get(`${cookie}.samesite`)).toBe('lax');
    expect(plain.get(`${cookie}.secure`)).toBe('false');

    const https = readCompose('docker-compose.https.yml');
    for (const node of ['ws1', 'ws2']) {
      // Compose merges labels by name: the HTTPS file's replace their namesakes.
      const merged = new Map([...plain, ...labelsOf(https.services[node])]);
      expect(merged.get(`${cookie}.secure`)).toBe('true');
      expect(merged.get(`${cookie}.samesite`)).toBe('none');
      expect(merged.get('traefik.http.routers.websocket.tls')).toBe('true');
      const entrypoints = merged.get('traefik.http.routers.websocket.entrypoints')!.split(',');
      expect(entrypoints).toEqual(['websecure']);
      expect(matches(merged.get('traefik.http.routers.websocket.rule')!, '/console/')).toBe(false);
    }
    const command = https.services.traefik.command!;
    expect(command).toContain('--entrypoints.websecure.address=:443');
    expect(command).toContain('--entrypoints.web.http.redirections.entrypoint.to=websecure');
    expect(command).toContain('--entrypoints.admin.address=:8081');
    expect(https.services.traefik.ports).toContain('443:443');
  });
});
