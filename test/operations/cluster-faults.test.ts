import Redis from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, json, sleep, startServer, type TestClient } from '../helpers';
import { RedisServer, redisMissing, waitReady } from '../support/redis';

const RECOVERY_LIMIT = 5000; // ms: cross-node delivery must be back this soon after Redis is

async function isDisconnected(client: TestClient): Promise<boolean> {
  return Promise.race([client.disconnected.then(() => true), sleep(0).then(() => false)]);
}

/** Publishes numbered NOTIFYs until `subscriber` receives one; returns how long that took. */
async function timeUntilDelivered(publisher: TestClient, subscriber: TestClient, room: string): Promise<number> {
  const started = Date.now();
  for (let attempt = 0; Date.now() - started < RECOVERY_LIMIT * 2; attempt++) {
    publisher.emit('NOTIFY', json({ room, message: attempt }));
    const got = await subscriber.next('EVENT', 100).catch(() => undefined);
    if (got) return Date.now() - started;
  }
  throw new Error('cross-node delivery never came back');
}

describe.skipIf(redisMissing)('cluster when Redis fails', () => {
  it('leaves Redis cleanly on close: its connections and subscriptions are gone', async () => {
    redis = await RedisServer.start();
    const node = await startServer({ redis: redis.address });
    await waitReady(node.url);
    const observer = new Redis(redis.port, '127.0.0.1');
    const connections = async () => (String(await observer.call('CLIENT', 'LIST')).trim().split('\n')).length - 1;
    const subscribers = async () => Number(((await observer.call('PUBSUB', 'NUMSUB', 'socket.io-request#/layout#')) as [string, number])[1]);
    expect(await connections()).toBe(2);
    expect(await subscribers()).toBe(1);
    await node.service.close();
    await expect.poll(connections).toBe(0);
    expect(await subscribers()).toBe(0);
    observer.disconnect();
  });

  let redis: RedisServer | undefined;
  afterEach(() => redis?.kill());

  it('starts without Redis, serves local clients at once, reports 503 on /readyz, then links up', async () => {
    redis = await RedisServer.reserve();
    const a = await startServer({ redis: redis.address });
    expect((await fetch(`${a.url}/healthcheck`)).status).toBe(200);
    const notReady = await fetch(`${a.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toMatch(new RegExp(`Not ready: Redis at ${redis.address}`));

    const subscriber = await connect('v4', a.url, '/layout');
    await subscriber.request('JOIN', json({ room: 'local', name: 'tv' }));
    const publisher = await connect('v1', a.url, '/layout');
    publisher.emit('NOTIFY', json({ room: 'local', message: 'without redis' }));
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'local', message: 'without redis' });
    await sleep(300);
    expect(a.records).toContainEqual(expect.objectContaining({ level: 40, msg: expect.stringMatching(/Redis unreachable/) }));

    const gauge = async () => /\nwebsocket_redis_connected (\d)/.exec(await (await fetch(`${a.url}/metrics`)).text())?.[1];
    expect(await gauge()).toBe('0');
    await redis.start();
    expect(await waitReady(a.url, RECOVERY_LIMIT)).toBeLessThan(RECOVERY_LIMIT);
    expect(await gauge()).toBe('1');
    expect(a.records).toContainEqual(expect.objectContaining({ level: 30, msg: expect.stringMatching(/Redis connected/) }));
    const b = await startServer({ redis: redis.address });
    await waitReady(b.url);
    const remote = await connect('v4', b.url, '/layout');
    remote.emit('NOTIFY', json({ room: 'local', message: 'across' }));
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'local', message: 'across' });
  });

  it('keeps local delivery through a Redis crash and restores cross-node delivery within 5 s, no client reconnecting', async () => {
    redis = await RedisServer.start();
    const a = await startServer({ redis: redis.address });
    const b = await startServer({ redis: redis.address });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
    const subscriber = await connect('v2', a.url, '/layout');
    await subscriber.request('JOIN', json({ room: 'live', name: 'tv' }));
    const localPublisher = await connect('v4', a.url, '/layout');
    const remotePublisher = await connect('v4', b.url, '/layout');
    await remotePublisher.request('JOIN', json({ room: 'live', name: 'phone' }));
    remotePublisher.emit('NOTIFY', json({ room: 'live', message: 'before' }));
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'phone', room: 'live', message: 'before' });

    await redis.kill();
    await sleep(300);
    expect((await fetch(`${a.url}/readyz`)).status).toBe(503);
    for (let i = 0; i < 20; i++) {
      localPublisher.emit('NOTIFY', json({ room: 'live', message: i }));
      remotePublisher.emit('NOTIFY', json({ room: 'live', message: 'lost' }));
    }
    for (let i = 0; i < 20; i++) {
      expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'live', message: i });
    }
    // CLIENTS still answers, from what this node knows.
    localPublisher.emit('CLIENTS', json({ room: 'live' }));
    expect(await localPublisher.nextValue('CLIENTS')).toEqual({ room: 'live', clients: ['tv'] });
    expect((await fetch(`${b.url}/healthcheck`)).status).toBe(200);

    await subscriber.drain('EVENT');
    await redis.start();
    expect(await timeUntilDelivered(remotePublisher, subscriber, 'live')).toBeLessThan(RECOVERY_LIMIT);
    await waitReady(a.url);
    await waitReady(b.url);
    for (const client of [subscriber, localPublisher, remotePublisher]) expect(await isDisconnected(client)).toBe(false);
  });
});
