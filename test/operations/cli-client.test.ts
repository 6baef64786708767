import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCertificate, type TlsMaterial } from '../../src';
import { connect, json, startServer } from '../helpers';

const CLI = path.resolve(__dirname, '../..', 'dist', 'cli-client.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CLI, ...args], { timeout: 15_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

// Each command is a Node.js process loading socket.io-client: seconds apiece on a busy machine.
describe('websocket-service-cli', { timeout: 60_000 }, () => {
  it('listen prints each EVENT as one JSON line; notify, clients and post work against a real server', async () => {
    const { url } = await startServer();
    const listener = spawn(process.execPath, [CLI, 'listen', '--url', url, '--namespace', '/bus', '--room', 'debug', '--name', 'cli'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    listener.stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
    await new Promise((resolve) => listener.stderr.once('data', resolve));

    const clients = await cli(['clients', '--url', url, '--namespace', '/bus', '--room', 'debug']);
    expect(clients).toMatchObject({ code: 0, stdout: '["cli"]\n' });

    expect((await cli(['notify', '--url', url, '--namespace', '/bus', '--room', 'debug', '--message', '{"n":1}', '--name', 'ops'])).code).toBe(0);
    expect((await cli(['post', '--url', url, '--room', 'debug', '--message', '[2]'])).code).toBe(0);
    const member = await connect('v4', url, '/bus');
    await member.request('JOIN', json({ room: 'debug', name: 'm' }));
    expect((await cli(['post', '--url', url, '--room', 'debug', '--message', '"three"'])).code).toBe(0);
    expect(await member.nextValue('EVENT')).toEqual({ sender: 'POST', room: 'debug', message: 'three' });

    await expect.poll(() => lines.length).toBe(3);
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.map(({ time, ...event }) => (expect(typeof time).toBe('string'), event))).toEqual([
      { sender: 'ops', room: 'debug', message: { n: 1 } },
      { sender: 'POST', room: 'debug', message: [2] },
      { sender: 'POST', room: 'debug', message: 'three' },
    ]);
    listener.kill('SIGINT');
    expect(await new Promise((resolve) => listener.on('exit', resolve))).toBe(0);
  });

  it('exits 1 when the server is unreachable, 2 on usage errors, 3 when the server refuses', async () => {
    const { url } = await startServer({ publishToken: 'publish-secret' });
    const unreachable = await cli(['clients', '--url', 'http://127.0.0.1:1', '--room', 'r', '--timeout', '2000']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot connect to http:\/\/127\.0\.0\.1:1/);
    expect((await cli(['post', '--url', 'http://127.0.0.1:1', '--room', 'r', '--message', '1'])).code).toBe(1);

    const badJson = await cli(['notify', '--url', url, '--room', 'r', '--message', '{oops']);
    expect(badJson).toMatchObject({ code: 2, stderr: expect.stringMatching(/--message is not valid JSON/) });
    expect((await cli(['shout', '--url', url, '--room', 'r'])).code).toBe(2);
    expect((await cli(['notify', '--room', 'r'])).code).toBe(2);

    const refused = await cli(['notify', '--url', url, '--room', 'x'.repeat(600), '--message', '1']);
    expect(refused).toMatchObject({ code: 3, stderr: expect.stringMatching(/server refused NOTIFY: room is longer than 512 characters/) });
    const unauthorized = await cli(['post', '--url', url, '--room', 'r', '--message', '1']);
    expect(unauthorized).toMatchObject({ code: 3, stderr: expect.stringMatching(/server answered 401/) });
    expect((await cli(['post', '--url', url, '--room', 'r', '--message', '1', '--token', 'publish-secret'])).code).toBe(0);
  });

  it('sends the client token in the handshake', async () => {
    const { url } = await startServer({ clientToken: 'client-secret' });
    const refused = await cli(['clients', '--url', url, '--room', 'r']);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/unauthorized/) });
    expect(await cli(['clients', '--url', url, '--room', 'r', '--token', 'client-secret'])).toMatchObject({ code: 0, stdout: '[]\n' });
  });

  describe('over TLS with a self-signed certificate', () => {
    let tls: TlsMaterial;
    let dir: string;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-cli-tls-'));
      tls = await loadOrCreateCertificate(path.join(dir, 'key.pem'), path.join(dir, 'cert.pem'), pino({ level: 'silent' }), { generate: true });
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('names the certificate and hints at --insecure; with --insecure, post and clients go through', async () => {
      const { url } = await startServer({ https: true, tls });
      const certificate = expect.stringMatching(/TLS certificate was not accepted: self-signed certificate.*pass --insecure/);
      const [post, clients, insecureClients, insecurePost] = await Promise.all([
        cli(['post', '--url', url, '--room', 'r', '--message', '1']),
        cli(['clients', '--url', url, '--room', 'r']),
        cli(['clients', '--url', url, '--room', 'r', '--insecure']),
        cli(['post', '--url', url, '--room', 'r', '--message', '{"tls":true}', '--insecure']),
      ]);
      expect(post).toMatchObject({ code: 1, stderr: certificate });
      expect(clients).toMatchObject({ code: 1, stderr: certificate });
      expect(insecureClients).toMatchObject({ code: 0, stdout: '[]\n' });
      expect(insecurePost).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK/) });
    });
  });

  it('names the cause of a refused connection rather than "websocket error"', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const refused = expect.stringMatching(new RegExp(`connection refused by 127\\.0\\.0\\.1:${port}`));
    const [sockets, post] = await Promise.all([
      cli(['clients', '--url', `http://127.0.0.1:${port}`, '--room', 'r']),
      cli(['post', '--url', `http://127.0.0.1:${port}`, '--room', 'r', '--message', '1']),
    ]);
    expect(sockets).toMatchObject({ code: 1, stderr: refused });
    expect(sockets.stderr).not.toMatch(/websocket error/);
    expect(post).toMatchObject({ code: 1, stderr: refused });
  });

  it.for([
    { url: 'localhost:3000', reason: /must start with http:\/\/ or https:\/\/.*did you mean http:\/\/localhost:3000/ },
    { url: 'not a url', reason: /--url is not a URL/ },
    { url: 'http://localhost:3000/layout', reason: /ends in the namespace \/layout/ },
    { url: 'http://localhost:3000/?token=x', reason: /no query/ },
  ])('--url $url is a usage error (exit 2)', async ({ url, reason }) => {
    const result = await cli(['clients', '--url', url, '--room', 'r']);
    expect(result).toMatchObject({ code: 2, stderr: expect.stringMatching(reason) });
  });

  it('reaches a node started with --path, through --path or a prefix in --url', async () => {
    const { url } = await startServer({ path: '/prefix/socket.io' });
    const [wrongPath, withPath, withPrefix, relativePath] = await Promise.all([
      cli(['clients', '--url', url, '--room', 'r']),
      cli(['clients', '--url', url, '--path', '/prefix/socket.io', '--room', 'r']),
      cli(['clients', '--url', `${url}/prefix/`, '--room', 'r']),
      cli(['clients', '--url', url, '--path', 'prefix', '--room', 'r']),
    ]);
    expect(wrongPath).toMatchObject({ code: 1, stderr: expect.stringMatching(/closed the connection without answering.*is \/socket\.io the node's Socket\.IO path \(see --path\)/) });
    expect(withPath).toMatchObject({ code: 0, stdout: '[]\n' });
    expect(withPrefix).toMatchObject({ code: 0, stdout: '[]\n' });
    expect(relativePath).toMatchObject({ code: 2, stderr: expect.stringMatching(/--path must start with \//) });
  });

  it('post keeps the path prefix of --url (a reverse proxy in front of the node)', async () => {
    const seen: string[] = [];
    const proxy = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('OK');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      expect(await cli(['post', '--url', `http://127.0.0.1:${port}/ws`, '--room', 'a b', '--message', '1'])).toMatchObject({ code: 0 });
      expect(seen).toEqual(['POST /ws/bus-message/a%20b']);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
