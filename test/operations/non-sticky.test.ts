/**
 * Two Redis-linked nodes behind a load balancer without sticky sessions: every request (and every
 * WebSocket connection) goes to the other node than the one before, so a long-polling session's
 * requests keep landing on the node that does not hold it, which relays them to the one that does.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import pino from 'pino';
import { Server } from 'socket.io';
import { createProxyServer } from 'http-proxy-3';
import Redis from 'ioredis';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import WebSocket from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { defaultAdvertiseUrl, FORWARD_MARKER, forwardSessions, newNodeId, nodeKey, SECRET_KEY } from '../../src/forwarding';
import { connect, EVENT_TIMEOUT, freePort, json, sleep, startServer, TestClient, VERSIONS, type LegacySocket, type TestServer } from '../helpers';
import { RedisServer, redisMissing, waitReady } from '../support/redis';
import { roomScenarios } from '../support/room-scenarios';

/** A round-robin HTTP and WebSocket balancer over `upstreams`, with no affinity of any kind. */
async function roundRobin(upstreams: () => string[]): Promise<{ url: string; close(): Promise<void> }> {
  const proxy = createProxyServer({});
  let turn = 0;
  // No agent: each request on a connection of its own, so that nothing pins a client to a node.
  const next = () => ({ target: upstreams()[turn++ % upstreams().length], agent: false });
  const server = http.createServer((req, res) => proxy.web(req, res, next(), () => res.writeHead(502).end()));
  server.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head, next(), () => socket.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A raw Engine.IO v4 long-polling request on `url`. */
async function poll(url: string, sid: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, init);
  return { status: response.status, text: await response.text() };
}

/** Opens an Engine.IO v4 polling session on `url` directly (no balancer): its id. */
async function handshake(url: string): Promise<string> {
  const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  return (JSON.parse((await response.text()).slice(1)) as { sid: string }).sid;
}

/** The value of `name{labels}` in a node's /metrics, 0 when absent. */
async function metric(url: string, sample: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe.skipIf(redisMissing)('two nodes behind a load balancer without sticky sessions', () => {
  let redis: RedisServer;
  let commands: Redis;
  let a: TestServer;
  let b: TestServer;
  let balancer: Awaited<ReturnType<typeof roundRobin>>;
  beforeAll(async () => {
    redis = await RedisServer.start();
    commands = new Redis({ port: redis.port, host: '127.0.0.1' });
    balancer = await roundRobin(() => [a.url, b.url]);
  });
  afterAll(async () => {
    await balancer?.close();
    commands?.disconnect();
    await redis?.kill();
  });
  beforeEach(async () => {
    a = await startServer({ redis: redis.address, shutdownGrace: 2000 });
    b = await startServer({ redis: redis.address, shutdownGrace: 2000 });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
  });

  // Both ends through the balancer: each request may land on either node.
  const topology = () => ({ subscriber: () => balancer.url, publisher: () => balancer.url });
  const polling = VERSIONS.map((version) => ({ version, transport: 'polling' as const }));
  describe('/layout', () => roomScenarios('/layout', topology, polling));
  describe('/bus', () => roomScenarios('/bus', topology, polling));

  it.each(['v2', 'v4'] as const)('lets a %s client start on polling and upgrade to WebSocket through the balancer', async (version) => {
    const options = { forceNew: true, multiplex: false, reconnection: false, transports: ['polling', 'websocket'] };
    const socket = version === 'v4' ? ioV4(`${balancer.url}/layout`, options) : (ioV2(`${balancer.url}/layout`, options) as LegacySocket);
    const upgrading = new TestClient(version, '/layout', socket);
    onTestFinished(() => upgrading.close());
    await upgrading.connected;
    expect(await upgrading.request('JOIN', json({ room: 'up', name: 'upgrader' }))).toEqual([]);
    await expect.poll(() => upgrading.transport, { timeout: EVENT_TIMEOUT }).toBe('websocket');
    const publisher = await connect(version, balancer.url, '/layout', { transport: 'polling' });
    publisher.emit('NOTIFY', json({ room: 'up', message: 'after upgrade' }));
    expect(await upgrading.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'up', message: 'after upgrade' });
    upgrading.emit('NOTIFY', json({ room: 'up', message: 'back' }));
    publisher.emit('CLIENTS', json({ room: 'up' }));
    expect(await publisher.nextValue('CLIENTS')).toEqual({ room: 'up', clients: ['upgrader'] });
  });

  it('names each session for its node, with 128 random bits, and counts relayed requests by kind', async () => {
    const sid = await handshake(a.url);
    expect(sid).toMatch(/^[0-9a-f]{12}\.[\w-]{22}$/);
    expect(await poll(b.url, sid, { method: 'POST', body: '3', headers: { 'content-type': 'text/plain;charset=UTF-8' } })).toEqual({ status: 200, text: 'ok' });
    const ws = new WebSocket(`${b.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('2probe');
    const answer = await new Promise((resolve) => ws.once('message', (data) => resolve(String(data))));
    expect(answer).toBe('3probe');
    ws.terminate();
    await sleep(200);
    expect(await metric(b.url, 'websocket_forward_failures_total{kind="upgrade"}')).toBe(0);
    expect(await metric(b.url, 'websocket_forwarded_requests_total{kind="post"}')).toBe(1);
    expect(await metric(b.url, 'websocket_forwarded_requests_total{kind="upgrade"}')).toBe(1);
    expect(await metric(a.url, 'websocket_forwarded_requests_total{kind="post"}')).toBe(0);
  });

  it('answers an id of an unknown or expired node exactly as engine.io answers an unknown session', async () => {
    const engines = await poll(a.url, 'no-such-session');
    expect(engines.status).toBe(400);
    expect(await poll(a.url, `${'0'.repeat(12)}.${'A'.repeat(22)}`)).toEqual(engines);
    // A node gone: its registration is withdrawn (or expires), and with it its sessions, once the
    // other nodes' cached address has lived its 2 s.
    const sid = await handshake(b.url);
    expect(await poll(a.url, sid, { method: 'POST', body: '3', headers: { 'content-type': 'text/plain' } })).toEqual({ status: 200, text: 'ok' });
    await b.service.close();
    expect(await commands.get(nodeKey(sid.split('.')[0]))).toBeNull();
    await sleep(2100);
    expect(await poll(a.url, sid)).toEqual(engines);
  });

  it('relays at most once, and a forged marker earns nothing', async () => {
    const sid = await handshake(b.url);
    const secret = (await commands.get(SECRET_KEY))!;
    expect(secret.length).toBeGreaterThanOrEqual(43);
    // A request that says it was relayed already is not relayed again: no loop between nodes.
    expect((await poll(a.url, sid, { headers: { [FORWARD_MARKER]: secret } })).status).toBe(400);
    // A wrong marker is dropped, and the request is relayed like any other.
    const forged = await poll(a.url, sid, { method: 'POST', body: '3', headers: { [FORWARD_MARKER]: 'x'.repeat(secret.length), 'content-type': 'text/plain' } });
    expect(forged).toEqual({ status: 200, text: 'ok' });
  });

  it('relays only to addresses registered in Redis, and counts the failures', async () => {
    // A node id that some rogue value points at something that is not an http(s) origin: ignored.
    await commands.set(nodeKey('abcdefabcdef'), 'file:///etc/passwd');
    expect((await poll(a.url, `abcdefabcdef.${'B'.repeat(22)}`)).status).toBe(400);
    // A registered node that is gone without withdrawing its address: 502, counted.
    await commands.set(nodeKey('0123456789ab'), `http://127.0.0.1:${await freePort()}`);
    expect((await poll(a.url, `0123456789ab.${'C'.repeat(22)}`)).status).toBe(502);
    expect(await metric(a.url, 'websocket_forward_failures_total{kind="poll"}')).toBe(1);
  });

  it('refuses to relay a POST larger than maxHttpBufferSize (413) or of no declared length (411)', async () => {
    const sid = await handshake(b.url);
    const big = await fetch(`${a.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: 'x'.repeat(1_000_001) });
    expect(big.status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${a.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST' }, (res) => resolve(res.statusCode!));
      req.on('error', reject);
      req.write('3');
      req.end();
    });
    expect(chunked).toBe(411);
    expect(await metric(a.url, 'websocket_forwarded_requests_total{kind="post"}')).toBe(0);
    // The session is still there, on its node.
    expect(await poll(a.url, sid, { method: 'POST', body: '3', headers: { 'content-type': 'text/plain' } })).toEqual({ status: 200, text: 'ok' });
  });

  it('closes within its grace with relayed polls pending, and cuts relayed WebSockets at once', async () => {
    const relayedWs = new WebSocket(`${a.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${await handshake(b.url)}`);
    await new Promise((resolve, reject) => relayedWs.once('open', resolve).once('error', reject));
    const closedWs = new Promise((resolve) => relayedWs.once('close', resolve));
    let started = Date.now();
    await a.service.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await closedWs;

    // b holds this poll until its next ping (25 s): the relay on b waits for it, within b's 2 s grace.
    const sid = await handshake(b.url);
    const c = await startServer({ redis: redis.address, shutdownGrace: 2000 });
    await waitReady(c.url);
    const pending = poll(c.url, sid).catch(() => undefined);
    await sleep(300);
    started = Date.now();
    await c.service.close();
    expect(Date.now() - started).toBeLessThan(2000 + 1000);
    await pending;
  });
});

describe('a single node (no --redis)', () => {
  it('keeps engine.io’s session ids, relays nothing and shows no relay metrics', async () => {
    const single = await startServer();
    const sid = await handshake(single.url);
    expect(sid).toMatch(/^[\w-]{20}$/);
    const engines = await poll(single.url, 'no-such-session');
    expect(await poll(single.url, `${'0'.repeat(12)}.${'A'.repeat(22)}`)).toEqual(engines);
    const text = await (await fetch(`${single.url}/metrics`)).text();
    expect(text).not.toContain('websocket_forward');
  });
});

describe('the default advertise URL', () => {
  it('is the host name and port on every interface, the bound address on one, with the node’s scheme', () => {
    expect(defaultAdvertiseUrl(false, { address: '0.0.0.0', family: 'IPv4', port: 3000 }, 'ws1')).toBe('http://ws1:3000');
    expect(defaultAdvertiseUrl(true, { address: '::', family: 'IPv6', port: 3443 }, 'ws2')).toBe('https://ws2:3443');
    expect(defaultAdvertiseUrl(false, { address: '10.0.0.7', family: 'IPv4', port: 3000 }, 'ws1')).toBe('http://10.0.0.7:3000');
    expect(defaultAdvertiseUrl(false, { address: 'fd00::7', family: 'IPv6', port: 3000 }, 'ws1')).toBe('http://[fd00::7]:3000');
  });
});

describe.skipIf(redisMissing)('a relay to a node that goes silent', () => {
  it('is cut after the idle limit: a poll gets 502, a WebSocket upgrade is closed', async () => {
    const redis = await RedisServer.start();
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    // A registered node that accepts connections and never says a word.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const server = http.createServer();
    const io = new Server(server);
    const failures: string[] = [];
    const forwarding = forwardSessions({
      io,
      nodeId: newNodeId(),
      redis: () => client,
      logger: pino({ level: 'silent' }),
      metrics: { forwarded: () => {}, forwardFailed: (kind) => failures.push(kind) },
      maxBody: 1000,
      idleMs: 300,
    });
    try {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      forwarding.advertise(url);
      await expect.poll(() => forwarding.ready()).toBe(true);
      await client.set(nodeKey('5113e7a11ee5'), `http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
      const sid = `5113e7a11ee5.${'D'.repeat(22)}`;

      let started = Date.now();
      expect((await poll(url, sid)).status).toBe(502);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(Date.now() - started).toBeLessThan(3000);

      started = Date.now();
      const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
      await new Promise((resolve) => ws.once('error', resolve).once('close', resolve));
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(Date.now() - started).toBeLessThan(3000);
      await expect.poll(() => failures).toEqual(['poll', 'upgrade']);
    } finally {
      await forwarding.close();
      io.close();
      silent.close();
      client.disconnect();
      await redis.kill();
    }
  });
});
