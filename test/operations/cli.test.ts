import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, json, SERVER_CLI, startCli } from '../helpers';

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
    expect(result.stdout).toContain('WS_CORS_ORIGIN');
  });

  it('prints the package version on --version', () => {
    const result = run(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../..', 'package.json'), 'utf8')).version);
  });

  it.each([
    [['--port', 'abc'], {}, /--port must be an integer/],
    [['--port', '70000'], {}, /--port must be an integer from 0 to 65535/],
    [[], { WS_PORT: 'x' }, /--port must be an integer/],
    [['--log-format', 'xml'], {}, /log-format/],
    [['--cors-origin', 'not an origin'], {}, /--cors-origin/],
    [['--path', 'socket.io'], {}, /--path must start with \//],
    [['--no-such-option'], {}, /Unknown argument/],
    [[], { WS_VERBOSE: 'maybe' }, /WS_VERBOSE must be true or false, got "maybe"/],
    [['--client-token', 'short'], {}, /--client-token must be at least 8 characters/],
    [['--redis', 'host:port:extra'], {}, /--redis/],
  ])('stops with exit code 2 and a one-line reason for %j %j', (args, env, reason) => {
    const result = run(args, env);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(reason);
  });

  it('prints the effective configuration with secrets masked on --print-config', () => {
    const result = run(['--print-config', '--publish-token', 'very-secret-publish', '-p', '4000'], { WS_CLIENT_TOKEN: 'very-secret-client', WS_HTTPS: 'yes', WS_METRICS: '0' });
    expect(result.status).toBe(0);
    const config = JSON.parse(result.stdout);
    expect(config).toMatchObject({ port: 4000, https: true, metrics: false, clientToken: '********', publishToken: '********', redis: null });
    expect(result.stdout).not.toContain('very-secret');
  });

  it('takes options from the environment and serves under another Socket.IO path', async () => {
    const server = await startCli([], { WS_PATH: '/ws/socket.io', WS_VERBOSE: 'true' });
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
    const line = server.lines.find((l) => l.includes('Listening'))!;
    expect(line).toMatch(
      new RegExp(`^2-Immerse subSource:ws level:INFO  host:"127\\.0\\.0\\.1"  logmessage:'Listening on port HTTP/${server.port}' sourcetime:\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d{4} source:ws-under-test$`),
    );
  });
});

describe('--https', () => {
  it('generates a self-signed pair when missing, keeps the key private, and serves wss and https', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-certs-'));
    const key = path.join(dir, 'server.pem');
    const cert = path.join(dir, 'server.crt');
    const server = await startCli(['--https', '--key', key, '--cert', cert]);
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
    const again = await startCli(['-S', '--key', key, '--cert', cert]);
    expect(again.lines.some((line) => line.includes('Generated'))).toBe(false);
    expect(again.lines.some((line) => line.includes(`Listening on port HTTPS/${again.port}`))).toBe(true);
  });
});
