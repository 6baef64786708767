import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadOrCreateCertificate } from '../../src';
import { startLine } from '../../src/create-server';
import { resolveOptions } from '../../src/options';
import { connect, json, SERVER_CLI, startCli } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [SERVER_CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 10_000 });
}

describe('command line', () => {
  it('lists every option with its environment variable on --help', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    for (const flag of ['-p, --port', '-S, --https', '-v, --verbose', '--host', '--path', '--cors-origin', '--key', '--cert', '--log-format', '--version']) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('WEBSOCKET_SERVICE_CORS_ORIGIN');
  });

  it('prints the package version on --version', () => {
    const result = run(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../..', 'package.json'), 'utf8')).version);
  });

  it.each([
    [['--port', 'abc'], {}, /--port must be a decimal integer/],
    [['--port', '70000'], {}, /--port must be a decimal integer from 0 to 65535/],
    [[], { WEBSOCKET_SERVICE_PORT: 'x' }, /^websocket-service: WEBSOCKET_SERVICE_PORT must be a decimal integer/],
    [['--log-format', 'xml'], {}, /log-format/],
    [['--cors-origin', 'not an origin'], {}, /--cors-origin/],
    [['--path', 'socket.io'], {}, /--path must start with \//],
    [['--no-such-option'], {}, /Unknown argument/],
    [[], { WEBSOCKET_SERVICE_VERBOSE: 'maybe' }, /WEBSOCKET_SERVICE_VERBOSE must be true or false, got "maybe"/],
    [[], { WS_VERBOSE: 'maybe' }, /WS_VERBOSE must be true or false, got "maybe"/],
    [['--client-token', 'short'], {}, /--client-token must be at least 8 characters/],
    [['--redis', 'host:port:extra'], {}, /--redis/],
    [['--https=maybe'], {}, /^websocket-service: --https must be true or false, got "maybe"\n$/],
  ])('stops with exit code 2 and a one-line reason for %j %j', (args, env, reason) => {
    const result = run(args, env);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(reason);
  });

  it('starts beside foreign and Kubernetes variables, warning about the ones it cannot use', () => {
    const result = run(['--print-config'], {
      WEBSOCKET_SERVICE_FOO: 'bar',
      WS_FOO: 'bar',
      WS_SERVICE_HOST: '10.0.0.11',
      WS_SERVICE_PORT: '3000',
      WS_PORT: 'tcp://10.0.0.11:3000',
      WS_PORT_3000_TCP: 'tcp://10.0.0.11:3000',
    });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).port).toBe(3000);
    expect(result.stderr.trim().split('\n').sort()).toEqual([
      'websocket-service: warning: WEBSOCKET_SERVICE_FOO is not an option of this service: ignored',
      'websocket-service: warning: WS_PORT looks like a Kubernetes service link (tcp://…): ignored',
    ]);
  });

  it('prints the effective configuration with secrets masked on --print-config', () => {
    const result = run(['--print-config', '--publish-token', 'very-secret-publish', '-p', '4000'], { WEBSOCKET_SERVICE_CLIENT_TOKEN: 'very-secret-client', WEBSOCKET_SERVICE_HTTPS: 'yes', WEBSOCKET_SERVICE_METRICS: '0' });
    expect(result.status).toBe(0);
    const config = JSON.parse(result.stdout);
    expect(config).toMatchObject({ port: 4000, https: true, metrics: false, clientToken: '********', publishToken: '********', redis: null });
    expect(result.stdout).not.toContain('very-secret');
  });

  it('takes options from the environment, WS_ names too with a warning, and serves under another Socket.IO path', async () => {
    const server = await startCli([], { WS_PATH: '/ws/socket.io', WEBSOCKET_SERVICE_LOG_LEVEL: 'debug' });
    expect(server.records()).toContainEqual(expect.objectContaining({ level: 40, msg: 'WS_PATH is deprecated: rename it WEBSOCKET_SERVICE_PATH' }));
    const url = `http://127.0.0.1:${server.port}`;
    const a = await connect('v1', url, '/layout', { path: '/ws/socket.io' });
    const b = await connect('v4', url, '/layout', { path: '/ws/socket.io' });
    await a.request('JOIN', json({ room: 'r', name: 'a' }));
    b.emit('NOTIFY', json({ room: 'r', message: 1 }));
    expect(await a.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'r', message: 1 });
    expect(server.lines.some((line) => line.includes('"level":20') && line.includes('"msg":"JOIN"'))).toBe(true);
    const defaultPath = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    expect(defaultPath.status).toBe(404);
  });

  it('closes and exits 0 on SIGTERM and on SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const server = await startCli([]);
      const client = await connect('v4', `http://127.0.0.1:${server.port}`, '/layout');
      server.child.kill(signal);
      expect(await server.exited).toMatchObject({ code: 0, signal: null });
      expect(await client.disconnected).toMatch(/transport close|io server disconnect/);
    }
  });

  it('writes the 2immerse platform line with LOG_NAME as source', async () => {
    const server = await startCli(['--log-format', '2immerse'], { LOG_NAME: 'ws-under-test' });
    const line = server.lines.find((l) => l.includes(' listening on '))!;
    const version = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../..', 'package.json'), 'utf8')).version.replace(/\./g, '\\.');
    expect(line).toMatch(
      new RegExp(
        `^2-Immerse subSource:ws level:INFO  url:"http://127\\.0\\.0\\.1:${server.port}"  version:"${version}"  bound:"127\\.0\\.0\\.1:${server.port}"  mode:"single node"  console:"http://127\\.0\\.0\\.1:${server.port}/console/"  ` +
          `logmessage:'websocket-service ${version} listening on http://127\\.0\\.0\\.1:${server.port}, single node; console http://127\\.0\\.0\\.1:${server.port}/console/' sourcetime:\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d{4} source:ws-under-test$`,
      ),
    );
  });
});

describe('listen failures', () => {
  it('says in one line, without a stack, which port is taken and which flag moves it', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      for (const [args, flag] of [
        [['--port', String(port)], '--port (WEBSOCKET_SERVICE_PORT)'],
        [['--port', '0', '--metrics-port', String(port)], '--metrics-port (WEBSOCKET_SERVICE_METRICS_PORT)'],
      ] as const) {
        const result = run(['--host', '127.0.0.1', ...args]);
        expect(result.status).toBe(1);
        const lines = (result.stdout + result.stderr).trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0])).toEqual({
          level: 60,
          time: expect.any(Number),
          msg: `Cannot listen on 127.0.0.1:${port}: the port is in use by another process; choose another with ${flag}`,
        });
      }
    } finally {
      taken.close();
    }
  });
});

describe('--https', () => {
  /** A copy of dist/ beside its own empty certs/, as in a fresh checkout or the image. */
  function freshInstall(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-install-'));
    fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    return dir;
  }

  it('generates a self-signed pair at the default certs/ paths when both are missing, keeps the key private, and serves wss and https', async () => {
    const dir = freshInstall();
    const script = path.join(dir, 'dist', 'server.js');
    const key = path.join(dir, 'certs', 'server.pem');
    const cert = path.join(dir, 'certs', 'server.crt');
    const server = await startCli(['--https'], {}, script);
    expect(server.lines.some((line) => line.includes('Generated a self-signed certificate'))).toBe(true);
    expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(cert, 'utf8')).toContain('BEGIN CERTIFICATE');

    const url = `https://127.0.0.1:${server.port}`;
    const subscriber = await connect('v4', url, '/layout', { rejectUnauthorized: false });
    const publisher = await connect('v1', url, '/layout', { rejectUnauthorized: false });
    await subscriber.request('JOIN', json({ room: 'secure', name: 'tv' }));
    publisher.emit('NOTIFY', json({ room: 'secure', message: 'over tls' }));
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'secure', message: 'over tls' });

    server.child.kill('SIGTERM');
    await server.exited;
    const again = await startCli(['-S'], {}, script);
    expect(again.lines.some((line) => line.includes('Generated'))).toBe(false);
    expect(again.lines.some((line) => line.includes(`listening on https://127.0.0.1:${again.port}`))).toBe(true);

    // The same pair, named explicitly, is read as it is.
    const explicit = await startCli(['-S', '--key', key, '--cert', cert]);
    const client = await connect('v2', `https://127.0.0.1:${explicit.port}`, '/layout', { rejectUnauthorized: false });
    expect(await client.request('JOIN', json({ room: 'secure', name: 'phone' }))).toEqual([]);
  });

  it('stops with exit 1 and one line naming the file when an explicit --key or --cert is missing, unreadable, not PEM or not a pair', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-certs-'));
    const silent = pino({ level: 'silent' });
    const a = { key: path.join(dir, 'a.key'), cert: path.join(dir, 'a.crt') };
    const b = { key: path.join(dir, 'b.key'), cert: path.join(dir, 'b.crt') };
    await loadOrCreateCertificate(a.key, a.cert, silent, { generate: true });
    await loadOrCreateCertificate(b.key, b.cert, silent, { generate: true });
    const missing = path.join(dir, 'typo', 'server.pem');
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'not a certificate\n');

    const cases: [string, string, string][] = [
      [missing, a.cert, `--key ${missing}: no such file`],
      [a.key, missing, `--cert ${missing}: no such file`],
      [dir, a.cert, `--key ${dir}: is a directory`],
      [text, a.cert, `--key ${text}: not a PEM private key (or one protected by a passphrase)`],
      [a.key, text, `--cert ${text}: not a PEM certificate`],
      [a.key, b.cert, `--cert ${b.cert}: does not match the key in ${a.key}`],
    ];
    for (const [key, cert, reason] of cases) {
      const result = run(['--https', '--host', '127.0.0.1', '--port', '0', '--key', key, '--cert', cert]);
      expect({ status: result.status, stderr: result.stderr, stdout: result.stdout }, reason).toEqual({ status: 1, stderr: `websocket-service: ${reason}\n`, stdout: '' });
    }
    // Nothing was written for the operator's typo.
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
  }, 60_000); // two RSA key pairs and six starts of the CLI, on a busy machine too
});

describe('start line', () => {
  const version = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../..', 'package.json'), 'utf8')).version;
  const any4 = { address: '0.0.0.0', family: 'IPv4', port: 3000 };

  it('gives the URL, version, mode and console link of a single node', () => {
    expect(startLine(resolveOptions(), any4, true)).toEqual({
      message: `websocket-service ${version} listening on http://localhost:3000 (every IPv4 interface), single node; console http://localhost:3000/console/`,
      fields: { url: 'http://localhost:3000', version, bound: '0.0.0.0:3000', mode: 'single node', console: 'http://localhost:3000/console/' },
    });
  });

  it('names the cluster link with its password masked and its mode, the Socket.IO path when moved, and no console when off', () => {
    const options = resolveOptions({ https: true, redis: 'redis://user:s3cret-pass@redis.example:6379', redisMode: 'sharded', path: '/ws/socket.io' });
    const { message, fields } = startLine(options, { address: '::', family: 'IPv6', port: 8443 }, false);
    expect(message).toBe(
      `websocket-service ${version} listening on https://localhost:8443 (every interface), Socket.IO path /ws/socket.io, cluster through Redis redis://user:********@redis.example:6379 (sharded)`,
    );
    expect(fields).toMatchObject({ url: 'https://localhost:8443', bound: '[::]:8443', mode: 'cluster', redisMode: 'sharded', redis: 'Redis redis://user:********@redis.example:6379' });
    expect(JSON.stringify(fields)).not.toContain('s3cret');
    expect(startLine(resolveOptions({ redis: 'redis-ha' }), { address: '10.1.2.3', family: 'IPv4', port: 3000 }, true).message).toContain(
      'listening on http://10.1.2.3:3000, cluster through Consul service redis-ha at https://consul.service.consul:8500 (classic); console http://10.1.2.3:3000/console/',
    );
  });
});
