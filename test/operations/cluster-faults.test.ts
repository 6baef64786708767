import { spawn, type ChildProcess } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Redis from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, json, sleep, startServer, type TestClient, type TestServer } from '../helpers';
import { RedisServer, redisMissing, TcpRelay, waitReady } from '../support/redis';
import { REDIS_MODES, type RedisMode } from '../../src/options';

const RECOVERY_LIMIT = 5000; // ms: cross-node delivery must be back this soon after Redis is

/**
 * How hard each mode is tried. The link's protections are one code path in every mode, so classic
 * gets the full crash loop and the long stall, the others fewer rounds and a shorter stall, which
 * still outlasts the time to 503 and the queue's cap several times over: the suite stays short on
 * a two-core machine.
 */
const FAULT_LOAD: Record<RedisMode, { crashes: number; stallMs: number; stallBytes: number }> = {
  classic: { crashes: 5, stallMs: 10_000, stallBytes: 40e6 },
  sharded: { crashes: 2, stallMs: 7000, stallBytes: 20e6 },
  streams: { crashes: 2, stallMs: 7000, stallBytes: 20e6 },
};

/** What a node leaves in Redis while linked, per mode: its connections, and who listens on one of its channels. */
const FOOTPRINT: Record<RedisMode, { connections: number; listeners: (observer: Redis) => Promise<number> }> = {
  // Publisher and subscriber; the adapter's request channel.
  classic: { connections: 2, listeners: async (observer) => Number(((await observer.call('PUBSUB', 'NUMSUB', 'socket.io-request#/layout#')) as [string, number])[1]) },
  sharded: { connections: 2, listeners: async (observer) => Number(((await observer.call('PUBSUB', 'SHARDNUMSUB', 'socket.io#/layout#')) as [string, number])[1]) },
  // Publisher, the link's own subscriber (readiness), the stream reader and the adapter's subscriber.
  streams: { connections: 4, listeners: async (observer) => Number(((await observer.call('PUBSUB', 'NUMSUB', 'socket.io#/layout#')) as [string, number])[1]) },
};

async function isDisconnected(client: TestClient): Promise<boolean> {
  return Promise.race([client.disconnected.then(() => true), sleep(0).then(() => false)]);
}

/** Publishes numbered NOTIFYs until `subscriber` receives one; returns how long that took. */
async function timeUntilDelivered(publisher: TestClient, subscriber: TestClient, room: string, limit = RECOVERY_LIMIT * 2): Promise<number> {
  const started = Date.now();
  for (let attempt = 0; Date.now() - started < limit; attempt++) {
    publisher.emit('NOTIFY', json({ room, message: attempt }));
    const got = await subscriber.next('EVENT', 100).catch(() => undefined);
    if (got) return Date.now() - started;
  }
  throw new Error('cross-node delivery never came back');
}

async function readyzStatus(node: TestServer): Promise<number> {
  return (await fetch(`${node.url}/readyz`)).status;
}

/** Resolves with the ms until `/readyz` of `node` answers 503, or undefined if it does not within `timeoutMs`. */
async function timeUntilNotReady(node: TestServer, timeoutMs: number): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if ((await readyzStatus(node)) === 503) return Date.now() - started;
    await sleep(100);
  }
  return undefined;
}

const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** Memory this process holds after a full collection: heap + external (Buffers), and RSS. */
function heldMemory(): { heap: number; rss: number } {
  gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed + usage.external, rss: usage.rss };
}

async function metric(node: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return Number(new RegExp(`\\n${name} (\\d+)`).exec(text)?.[1]);
}

/** Two processes spinning on the CPU, as on a busy machine; stopped after the test. */
function cpuHogs(): ChildProcess[] {
  const hogs = [0, 1].map(() => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  for (const hog of hogs) onTestDone(() => hog.kill('SIGKILL'));
  return hogs;
}

const cleanups: (() => unknown)[] = [];
const onTestDone = (cleanup: () => unknown) => cleanups.push(cleanup);

/** Log records of `node` at `level` or above whose message matches `pattern`. */
const logged = (node: TestServer, level: number, pattern: RegExp) =>
  node.records.filter((record) => (record.level as number) >= level && pattern.test(String(record.msg)));

describe.skipIf(redisMissing).each(REDIS_MODES)('cluster when Redis fails (%s)', (redisMode) => {
  const load = FAULT_LOAD[redisMode];
  let redis: RedisServer | undefined;
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await redis?.kill();
    redis = undefined;
  });

  it('leaves Redis cleanly on close: its connections and subscriptions are gone', async () => {
    redis = await RedisServer.start();
    const node = await startServer({ redis: redis.address, redisMode });
    await waitReady(node.url);
    const observer = new Redis(redis.port, '127.0.0.1');
    const connections = async () => (String(await observer.call('CLIENT', 'LIST')).trim().split('\n')).length - 1;
    const subscribers = () => FOOTPRINT[redisMode].listeners(observer);
    await expect.poll(connections).toBe(FOOTPRINT[redisMode].connections);
    expect(await subscribers()).toBe(1);
    await node.service.close();
    await expect.poll(connections).toBe(0);
    expect(await subscribers()).toBe(0);
    observer.disconnect();
  });

  it('starts without Redis, serves local clients at once, reports 503 on /readyz, then links up', async () => {
    redis = await RedisServer.reserve();
    const a = await startServer({ redis: redis.address, redisMode });
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

    expect(await metric(a, 'websocket_redis_connected')).toBe(0);
    await redis.start();
    expect(await waitReady(a.url, RECOVERY_LIMIT)).toBeLessThan(RECOVERY_LIMIT);
    expect(await metric(a, 'websocket_redis_connected')).toBe(1);
    expect(a.records).toContainEqual(expect.objectContaining({ level: 30, msg: expect.stringMatching(/Redis connected/) }));
    const b = await startServer({ redis: redis.address, redisMode });
    await waitReady(b.url);
    const remote = await connect('v4', b.url, '/layout');
    remote.emit('NOTIFY', json({ room: 'local', message: 'across' }));
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'local', message: 'across' });
  });

  it(`keeps local delivery through ${load.crashes} Redis crashes on a busy machine and restores cross-node delivery within 5 s each time, no client reconnecting`, async () => {
    cpuHogs();
    redis = await RedisServer.start();
    const a = await startServer({ redis: redis.address, redisMode });
    const b = await startServer({ redis: redis.address, redisMode });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
    const subscriber = await connect('v2', a.url, '/layout');
    await subscriber.request('JOIN', json({ room: 'live', name: 'tv' }));
    const localPublisher = await connect('v4', a.url, '/layout');
    const remotePublisher = await connect('v4', b.url, '/layout');
    await remotePublisher.request('JOIN', json({ room: 'live', name: 'phone' }));
    remotePublisher.emit('NOTIFY', json({ room: 'live', message: 'before' }));
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'phone', room: 'live', message: 'before' });

    const recoveries: number[] = [];
    for (let round = 0; round < load.crashes; round++) {
      await redis.kill();
      await sleep(300);
      expect(await readyzStatus(a)).toBe(503);
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
      recoveries.push(await timeUntilDelivered(remotePublisher, subscriber, 'live'));
      await waitReady(a.url);
      await waitReady(b.url);
      await subscriber.drain('EVENT');
    }
    console.info(`cross-node delivery back after Redis restarts, per round (ms, two CPU hogs running): ${recoveries.join(', ')}`);
    for (const ms of recoveries) expect(ms).toBeLessThan(RECOVERY_LIMIT);
    expect(await metric(b, 'websocket_redis_publishes_lost_total')).toBeGreaterThanOrEqual(load.crashes * 20);
    for (const client of [subscriber, localPublisher, remotePublisher]) expect(await isDisconnected(client)).toBe(false);
  }, 90_000);

  it('bounds memory while Redis is stalled (SIGSTOP), answers 503 within seconds, and resumes after SIGCONT', async () => {
    redis = await RedisServer.start();
    const paused = redis;
    onTestDone(() => paused.resume());
    const queueBytes = 1_000_000;
    const a = await startServer({ redis: redis.address, redisMode });
    const b = await startServer({ redis: redis.address, redisMode, redisQueueBytes: queueBytes });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
    const subscriber = await connect('v4', a.url, '/layout');
    await subscriber.request('JOIN', json({ room: 'big', name: 'tv' }));
    const publisher = await connect('v4', b.url, '/layout');
    publisher.emit('NOTIFY', json({ room: 'big', message: 'before' }));
    expect(await subscriber.nextValue('EVENT')).toMatchObject({ message: 'before' });

    const payload = json({ room: 'big', message: 'x'.repeat(200_000) });
    const before = heldMemory();
    const peak = { ...before };
    let sent = 0;
    redis.pause();
    const stalled = Date.now();
    const readyzWatch = timeUntilNotReady(b, 10_000);
    // 200 KB NOTIFYs for the stall, and on until its bytes went out on a slow machine; each batch is
    // taken in by the node (CLIENTS answers after it) before the next, so nothing piles up in the client.
    while (Date.now() - stalled < load.stallMs || (sent * 200_000 < load.stallBytes && Date.now() - stalled < 40_000)) {
      for (let i = 0; i < 5; i++, sent++) publisher.emit('NOTIFY', payload);
      publisher.emit('CLIENTS', json({ room: 'big' }));
      await publisher.next('CLIENTS', 10_000);
      const now = process.memoryUsage();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.heap = Math.max(peak.heap, now.heapUsed + now.external);
    }
    const stallMs = Date.now() - stalled;
    const notReadyAfter = await readyzWatch;
    const during = heldMemory();
    const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
    console.info(
      `Redis stalled ${stallMs} ms, ${sent} NOTIFYs of 200 KB (${mb(sent * 200_000)} MB), Redis queue cap ${mb(queueBytes)} MB: ` +
        `held after GC ${mb(before.heap)} → ${mb(during.heap)} MB (heap + external), peak ${mb(peak.heap)} MB; ` +
        `RSS ${mb(before.rss)} → ${mb(during.rss)} MB, peak ${mb(peak.rss)} MB; /readyz 503 after ${notReadyAfter} ms`,
    );
    expect(notReadyAfter).toBeLessThan(6000);
    expect(await readyzStatus(b)).toBe(503);
    expect(sent * 200_000).toBeGreaterThanOrEqual(load.stallBytes);
    // Unbounded, everything sent (20 or 40 MB and more) would still wait in the Redis client here;
    // bounded, what stays is the queue's cap and what the process's own traffic leaves about.
    expect(during.heap - before.heap).toBeLessThan(20e6);
    expect(peak.rss - before.rss).toBeLessThan(200e6);
    expect(await metric(b, 'websocket_redis_publishes_lost_total')).toBeGreaterThan(sent / 2);

    redis.resume();
    await waitReady(b.url, RECOVERY_LIMIT * 2);
    await waitReady(a.url, RECOVERY_LIMIT * 2);
    await subscriber.drain('EVENT');
    expect(await timeUntilDelivered(publisher, subscriber, 'big')).toBeLessThan(RECOVERY_LIMIT);
    for (const client of [subscriber, publisher]) expect(await isDisconnected(client)).toBe(false);
  }, 90_000);

  it('replaces connections that a network black hole holds, and cross-node delivery comes back', async () => {
    redis = await RedisServer.start();
    const relay = await new TcpRelay(redis.port).start();
    onTestDone(() => relay.close());
    const a = await startServer({ redis: relay.address, redisMode });
    const b = await startServer({ redis: redis.address, redisMode });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
    const subscriber = await connect('v4', a.url, '/layout');
    await subscriber.request('JOIN', json({ room: 'hole', name: 'tv' }));
    const publisher = await connect('v4', b.url, '/layout');
    publisher.emit('NOTIFY', json({ room: 'hole', message: 'before' }));
    expect(await subscriber.nextValue('EVENT')).toMatchObject({ message: 'before' });

    relay.swallowOpenConnections();
    const notReadyAfter = await timeUntilNotReady(a, 5000);
    const back = await waitReady(a.url, 10_000);
    console.info(`black hole: /readyz 503 after ${notReadyAfter} ms, ready again ${back} ms later`);
    expect(logged(a, 40, /replacing its connections/)).toHaveLength(1);
    await subscriber.drain('EVENT');
    expect(await timeUntilDelivered(publisher, subscriber, 'hole')).toBeLessThan(RECOVERY_LIMIT);
    for (const client of [subscriber, publisher]) expect(await isDisconnected(client)).toBe(false);
  }, 30_000);
});

// The causes are read off the connections, the same in every mode: classic only.
describe.skipIf(redisMissing)('cluster: Redis errors name their cause', () => {
  let redis: RedisServer | undefined;
  afterEach(async () => {
    await redis?.kill();
    redis = undefined;
  });

  /** Waits until each of the node's two clients has failed at least `attempts` times. */
  const retried = (node: TestServer, attempts: number) =>
    expect.poll(() => node.records.filter((record) => record.msg === 'Redis client error').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2 * attempts);

  it('says once that Redis is unreachable, then once that it wants a password the URL does not give', async () => {
    redis = await RedisServer.reserve({ password: 'secret' });
    const node = await startServer({ redis: redis.address });
    await retried(node, 3);
    expect(logged(node, 40, /^Redis unreachable \(connect ECONNREFUSED 127\.0\.0\.1:\d+\): serving local clients only, retrying$/)).toHaveLength(1);

    await redis.start();
    const before = node.records.length;
    await expect.poll(() => logged(node, 50, /NOAUTH/).length, { timeout: 5000 }).toBe(1);
    await expect.poll(() => node.records.slice(before).filter((record) => record.msg === 'Redis client error').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(6);
    const [line] = logged(node, 50, /NOAUTH/);
    expect(line.msg).toBe('Redis wants a password and --redis gives none (NOAUTH; give it as redis://:PASSWORD@host:port): serving local clients only, retrying');
    expect(line.err).toMatchObject({ message: expect.stringMatching(/NOAUTH/) });
    expect(await (await fetch(`${node.url}/readyz`)).text()).toMatch(/NOAUTH/);
  });

  it('says once that the password in the URL is wrong, and links up with the right one', async () => {
    redis = await RedisServer.start({ password: 'secret' });
    const wrong = await startServer({ redis: `redis://:nope@${redis.address}` });
    await retried(wrong, 3);
    expect(logged(wrong, 50, /^Redis refused the password in the --redis URL \(WRONGPASS\): serving local clients only, retrying$/)).toHaveLength(1);
    expect(logged(wrong, 40, /unreachable/)).toHaveLength(0);
    const right = await startServer({ redis: `redis://:secret@${redis.address}` });
    await waitReady(right.url);
  });

  it('names an unknown host (ENOTFOUND) once', async () => {
    const node = await startServer({ redis: 'no-such-host.invalid:6379' });
    await retried(node, 2);
    expect(logged(node, 40, /^Redis host not found \(getaddrinfo ENOTFOUND no-such-host\.invalid\): serving local clients only, retrying$/)).toHaveLength(1);
  }, 30_000);

  it("routes ioredis's own console warnings through the service's logger", async () => {
    redis = await RedisServer.start();
    const warn = vi.spyOn(console, 'warn');
    try {
      const node = await startServer({ redis: `redis://:unneeded@${redis.address}` });
      await waitReady(node.url);
      expect(logged(node, 40, /^Redis needs no password, but --redis gives one: it is ignored$/)).toHaveLength(1);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});
