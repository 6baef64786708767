import { io as ioV4, type Socket as SocketV4 } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, EVENT_TIMEOUT, json, QUIET_PERIOD, sleep, startServer, type TestClient, type TestServer } from '../helpers';
import { RedisServer, redisMissing, TcpRelay, waitReady } from '../support/redis';

/**
 * Recovery across nodes (`--redis-mode streams`), over real network cuts: a 4.x client whose TCP
 * connection to node A is reset comes back through the same address to node B and gets what it
 * missed; a node whose connections to Redis are reset for 2 s reads on from its stream offset.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + EVENT_TIMEOUT;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${EVENT_TIMEOUT} ms`);
    await sleep(10);
  }
}

/** A 4.x client that does not reconnect by itself, so that the test says when it comes back. */
async function recoverable(url: string, nsp: string) {
  const socket: SocketV4 = ioV4(url + nsp, { forceNew: true, multiplex: false, reconnection: false, transports: ['websocket'] });
  cleanups.push(() => socket.close());
  const events: unknown[][] = [];
  socket.on('EVENT', (...args: unknown[]) => events.push(args));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, events };
}

const messages = (events: unknown[][]) => events.map(([payload]) => (payload as { message: unknown }).message);

/** Numbered NOTIFYs from `publisher`, then a CLIENTS round trip: its node has published them all. */
async function publish(publisher: TestClient, room: string, numbers: number[]): Promise<void> {
  for (const message of numbers) publisher.emit('NOTIFY', json({ room, message }));
  publisher.emit('CLIENTS', json({ room }));
  await publisher.next('CLIENTS');
}

describe.skipIf(redisMissing)('recovery across nodes (--redis-mode streams)', () => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  /** Between node A and Redis. */
  let redisLink: TcpRelay;

  const startCluster = async (redisMode: 'classic' | 'streams') => {
    redis = await RedisServer.start();
    cleanups.push(() => redis.kill());
    redisLink = await new TcpRelay(redis.port).start();
    cleanups.push(() => redisLink.close());
    a = await startServer({ redis: redisLink.address, redisMode });
    b = await startServer({ redis: redis.address, redisMode });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
  };

  it('brings a 4.x client cut off node A back on node B with everything it missed, once and in order; a 2.x client sees no offset', async () => {
    await startCluster('streams');
    // The client's one address, as behind a load balancer: node A first, node B after the cut.
    const balancer = await new TcpRelay(a.port).start();
    cleanups.push(() => balancer.close());
    const tv = await recoverable(`http://${balancer.address}`, '/bus');
    await new Promise((resolve) => tv.socket.emit('JOIN', json({ room: 'r', name: 'tv' }), resolve));
    const old = await connect('v2', a.url, '/bus');
    await old.request('JOIN', json({ room: 'r', name: 'old' }));
    const phone = await connect('v4', b.url, '/bus');
    await phone.request('JOIN', json({ room: 'r', name: 'phone' }));

    await publish(phone, 'r', [0]);
    await until(() => tv.events.length === 1, 'first EVENT');
    const [, offset] = tv.events[0];
    expect(offset).toMatch(/^\d+-\d+$/);

    const id = tv.socket.id!;
    const closed = new Promise<string>((resolve) => tv.socket.once('disconnect', resolve));
    balancer.cut();
    expect(await closed).toBe('transport close');
    await until(() => !a.service.io.of('/bus').sockets.has(id), 'node A saw the cut');
    await publish(phone, 'r', [1, 2]);
    const posted = await fetch(`${a.url}/bus-message/r`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json(3) });
    expect(posted.status).toBe(200);
    await publish(phone, 'r', [4]);

    balancer.retarget(b.port);
    balancer.restore();
    const connected = new Promise<void>((resolve) => tv.socket.once('connect', () => resolve()));
    tv.socket.connect();
    await connected;
    expect(tv.socket.recovered).toBe(true);
    expect(b.service.io.of('/bus').sockets.has(tv.socket.id!)).toBe(true);
    await until(() => tv.events.length === 5, 'missed EVENTs');
    // Still in the room, under its name, now on node B.
    await publish(phone, 'r', [5]);
    await until(() => tv.events.length === 6, 'EVENT after recovery');
    await sleep(QUIET_PERIOD);
    expect(messages(tv.events)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(tv.events[3][0]).toEqual({ sender: 'POST', room: 'r', message: 3 });
    expect(tv.events.every((args) => args.length === 2 && /^\d+-\d+$/.test(args[1] as string))).toBe(true);
    expect(await phone.nextValue('EVENT')).toEqual({ sender: 'POST', room: 'r', message: 3 });
    tv.socket.emit('NOTIFY', json({ room: 'r', message: 'back' }));
    expect(await phone.nextValue('EVENT')).toEqual({ sender: 'tv', room: 'r', message: 'back' });

    // The 2.x client on node A got each event as one argument, as without recovery.
    expect(await old.drain('EVENT')).toEqual([0, 1, 2, 3, 4, 5, 'back'].map((message) => [{ sender: message === 3 ? 'POST' : message === 'back' ? 'tv' : 'phone', room: 'r', message }]));
  });

  it('adds no offset on /lobby and /trigger, whose sessions do not recover across nodes', async () => {
    await startCluster('streams');
    const first = await connect('v4', a.url, '/lobby', { query: { lobbyId: 'L' } });
    expect(await first.next('JOINED')).toHaveLength(1);
    const second = await connect('v4', b.url, '/lobby', { query: { lobbyId: 'L' } });
    expect(await first.next('JOINED')).toEqual([second.publicId]);
    second.emit('BROADCAST', { message: 'hello' });
    expect(await first.next('MESSAGE')).toEqual([{ from: second.publicId, message: 'hello' }]);
    const editor = await connect('v4', a.url, '/trigger');
    expect(await editor.request('JOIN', 'timeline')).toEqual([]);
    const service = await connect('v4', b.url, '/trigger');
    service.emit('BROADCAST_UPDATES', 'timeline', { clock: 1 });
    expect(await editor.next('UPDATES')).toEqual([{ clock: 1 }]);
  });

  /**
   * Resets node A's connections to Redis for 2 s while node B publishes 1…20, 100 ms apart, then
   * 21 once node A is ready again: what a member on node A received, up to 21.
   */
  const throughBlip = async (): Promise<unknown[]> => {
    const subscriber = await connect('v2', a.url, '/layout');
    await subscriber.request('JOIN', json({ room: 'blip', name: 'tv' }));
    const publisher = await connect('v4', b.url, '/layout');
    await publish(publisher, 'blip', [0]);
    expect(await subscriber.nextValue('EVENT')).toMatchObject({ message: 0 });

    redisLink.cut();
    const cutAt = Date.now();
    for (let i = 1; i <= 20; i++) {
      await publish(publisher, 'blip', [i]);
      await sleep(100);
    }
    await sleep(Math.max(0, 2000 - (Date.now() - cutAt)));
    redisLink.restore();
    await waitReady(a.url, 10_000);
    await publish(publisher, 'blip', [21]);
    const received: unknown[] = [];
    while (received.at(-1) !== 21) received.push(((await subscriber.nextValue('EVENT')) as { message: unknown }).message);
    expect(await subscriber.drain('EVENT')).toEqual([]);
    return received;
  };

  it('loses nothing that other nodes publish while node A is cut off Redis for 2 s', async () => {
    await startCluster('streams');
    expect(await throughBlip()).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  }, 30_000);

  it('(classic mode, for contrast: its pub/sub loses what is published meanwhile)', async () => {
    await startCluster('classic');
    const received = await throughBlip();
    expect(received.length).toBeLessThan(21);
    expect(received.at(-1)).toBe(21);
  }, 30_000);
});
