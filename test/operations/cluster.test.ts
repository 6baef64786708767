import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, freePort, json, startServer, type TestServer } from '../helpers';
import { RedisServer, redisMissing, waitReady } from '../support/redis';
import { roomScenarios } from '../support/room-scenarios';
import { REDIS_MODES } from '../../src/options';

describe.skipIf(redisMissing).each(REDIS_MODES)('cluster of two nodes through Redis (%s)', (redisMode) => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(() => redis?.kill());
  beforeEach(async () => {
    a = await startServer({ redis: redis.address, redisMode });
    b = await startServer({ redis: redis.address, redisMode });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
  });

  // Subscribers on node A, publishers on node B.
  const topology = () => ({ subscriber: () => a.url, publisher: () => b.url });
  describe('/layout', () => roomScenarios('/layout', topology));
  describe('/bus', () => roomScenarios('/bus', topology));

  it('delivers POST /bus-message sent to either node to /bus members on both', async () => {
    const onA = await connect('v4', a.url, '/bus');
    const onB = await connect('v2', b.url, '/bus');
    await onA.request('JOIN', json({ room: 'posted', name: 'a' }));
    await onB.request('JOIN', json({ room: 'posted', name: 'b' }));
    for (const node of [a, b]) {
      const response = await fetch(`${node.url}/bus-message/posted`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: json({ from: node.port }),
      });
      // Both members get it; each node counts the one of its own.
      expect({ status: response.status, text: await response.text() }).toEqual({ status: 200, text: 'OK: delivered to 1 local socket' });
      const expected = { sender: 'POST', room: 'posted', message: { from: node.port } };
      expect(await onA.nextValue('EVENT')).toEqual(expected);
      expect(await onB.nextValue('EVENT')).toEqual(expected);
    }
  });

  it('runs the lobby across nodes: JOINED, PEERS, MESSAGE, RTCSIGNAL, LEFT', async () => {
    const first = await connect('v4', a.url, '/lobby', { query: { lobbyId: 'L' } });
    expect(await first.nextValue('JOINED')).toBe(first.publicId);
    expect(await first.nextValue('PEERS')).toEqual([]);
    const second = await connect('v1', b.url, '/lobby', { query: { lobbyId: 'L' } });
    expect(await first.nextValue('JOINED')).toBe(second.publicId);
    expect(await second.nextValue('JOINED')).toBe(second.publicId);
    expect(await second.nextValue('PEERS')).toEqual([first.publicId]);

    second.emit('BROADCAST', { message: 'hello' });
    expect(await first.nextValue('MESSAGE')).toEqual({ from: second.publicId, message: 'hello' });
    expect(await second.nextValue('MESSAGE')).toEqual({ from: second.publicId, message: 'hello' });

    second.emit('RTCSIGNAL', { to: first.publicId, sdp: 'offer' });
    expect(await first.nextValue('RTCSIGNAL')).toEqual({ to: first.publicId, sdp: 'offer', from: second.publicId });

    const stranger = await connect('v4', b.url, '/lobby', { query: { lobbyId: 'other' } });
    stranger.emit('RTCSIGNAL', { to: first.publicId, sdp: 'spam' });
    expect(await stranger.nextValue('ERROR')).toMatchObject({ event: 'RTCSIGNAL' });
    expect(await first.drain('RTCSIGNAL')).toEqual([]);

    const secondId = second.publicId;
    second.close();
    expect(await first.nextValue('LEFT')).toBe(secondId);
  });

  it('forwards /trigger broadcasts across nodes', async () => {
    const editor = await connect('v2', a.url, '/trigger', { transport: 'polling' });
    expect(await editor.request('JOIN', 'timeline-1')).toEqual([]);
    const service = await connect('v4', b.url, '/trigger');
    service.emit('BROADCAST_UPDATES', 'timeline-1', { clock: 12 });
    expect(await editor.nextValue('UPDATES')).toEqual({ clock: 12 });
    expect(await service.drain('UPDATES')).toEqual([]);
  });

  // The look-up comes before the link and is the same in every mode.
  if (redisMode === 'classic') {
    describe('Consul look-up', () => {
      let consul: http.Server;
      let consulUrl: string;
      let requested: string[];
      beforeAll(async () => {
        requested = [];
        consul = http.createServer((req, res) => {
          requested.push(req.url ?? '');
          res.setHeader('content-type', 'application/json');
          if (req.url === '/v1/catalog/service/broken') {
            res.statusCode = 500;
            return res.end('{}');
          }
          // The shape of Consul's /v1/catalog/service/NAME answer (abridged to real fields).
          const entries = req.url === '/v1/catalog/service/redis'
            ? [{ ID: 'a1', Node: 'node-1', Address: '127.0.0.1', Datacenter: 'dc1', TaggedAddresses: {}, NodeMeta: {}, ServiceKind: '', ServiceID: 'redis-1', ServiceName: 'redis', ServiceTags: [], ServiceAddress: '', ServicePort: redis.port, ServiceEnableTagOverride: false, CreateIndex: 10, ModifyIndex: 10 }]
            : [];
          res.end(JSON.stringify(entries));
        });
        await new Promise<void>((resolve) => consul.listen(0, '127.0.0.1', resolve));
        consulUrl = `http://127.0.0.1:${(consul.address() as { port: number }).port}`;
      });
      afterAll(() => new Promise((resolve) => consul.close(resolve)));

      it('finds Redis by service name and links through it', async () => {
        const viaConsul = await startServer({ redis: 'redis', consulHost: consulUrl });
        await waitReady(viaConsul.url);
        expect(requested).toContain('/v1/catalog/service/redis');
        const subscriber = await connect('v4', a.url, '/layout');
        await subscriber.request('JOIN', json({ room: 'consul', name: 's' }));
        const publisher = await connect('v4', viaConsul.url, '/layout');
        publisher.emit('NOTIFY', json({ room: 'consul', message: 'found' }));
        expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'consul', message: 'found' });
      });

      it('stops the process with one line naming the cause and a non-zero exit when the look-up fails', async () => {
        const server = path.resolve(__dirname, '../..', 'dist', 'server.js');
        const run = async (args: string[]) => {
          const output = await promisify(execFile)(process.execPath, [server, '-p', '0', '--host', '127.0.0.1', ...args], { timeout: 40_000 }).then(
            () => ({ code: 0, stdout: '' }),
            (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
          );
          const records = output.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
          const fatal = records.filter((record) => record.level === 60);
          expect(output.code).toBe(1);
          expect(fatal).toHaveLength(1);
          expect(fatal[0]).not.toHaveProperty('err');
          return String(fatal[0].msg);
        };
        const closed = `http://127.0.0.1:${await freePort()}`;
        const hint = '--redis "%s" has no port, so it is read as a Consul service name (for a Redis address, give host:port)';
        const [unknown, refused, notFound, status, localhost] = await Promise.all([
          run(['-r', 'no-such-service', '-c', consulUrl]),
          run(['-r', 'redis', '-c', closed]),
          run(['-r', 'redis', '-c', 'http://no-such-host.invalid:8500']),
          run(['-r', 'broken', '-c', consulUrl]),
          run(['-r', 'localhost', '-c', closed]),
        ]);
        expect(unknown).toBe(`Consul look-up failed: no instance of the service is registered (service "no-such-service" at ${consulUrl}); ${hint.replace('%s', 'no-such-service')}`);
        expect(refused).toMatch(new RegExp(`^Consul look-up failed: ECONNREFUSED \\(service "redis" at ${closed}\\);`));
        expect(notFound).toMatch(/^Consul look-up failed: ENOTFOUND \(service "redis" at http:\/\/no-such-host\.invalid:8500\);/);
        expect(status).toMatch(/^Consul look-up failed: HTTP 500 \(service "broken" at http:\/\/127\.0\.0\.1:\d+\);/);
        expect(localhost).toBe(`Consul look-up failed: ECONNREFUSED (service "localhost" at ${closed}); ${hint.replace('%s', 'localhost')}`);
      }, 60_000);
    });
  }
});
