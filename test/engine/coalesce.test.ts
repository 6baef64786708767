import type { Socket as NetSocket } from 'node:net';
import { io as ioV4, type Socket as ClientSocket } from 'socket.io-client';
import type { Namespace } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { connect, json, sleep, startServer, WIRES, type TestClient, type TestServer } from '../helpers';

/** The engine.io internals these tests look at (private in its typings). */
interface EngineSocketInternals {
  writeBuffer: unknown[];
  transport: { name: string; socket?: { _socket?: NetSocket; bufferedAmount: number } };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The server side of the only Engine.IO connection of `server` (or of the one with `id`). */
function engineSocketOf(server: TestServer, id?: string): EngineSocketInternals {
  const clients = (server.service.io.engine as unknown as { clients: Record<string, EngineSocketInternals> }).clients;
  const socket = id ? clients[id] : Object.values(clients)[0];
  if (!socket) throw new Error('no such Engine.IO connection');
  return socket;
}

/** The next `count` EVENT payloads of `client`, in arrival order. */
async function events(client: TestClient, count: number): Promise<unknown[]> {
  const values: unknown[] = [];
  for (let i = 0; i < count; i++) values.push(await client.nextValue('EVENT'));
  return values;
}

const range = (count: number) => Array.from({ length: count }, (_, i) => i);

/** A namespace of `server` whose sockets all join the room `all` on connection. */
function joinedNamespace(server: TestServer, name: string): Namespace {
  const nsp = server.service.io.of(name);
  nsp.on('connection', (socket) => {
    void socket.join('all');
  });
  return nsp;
}

describe('write coalescing', () => {
  describe.each(WIRES)('$version over $transport', ({ version, transport }) => {
    it('delivers a burst of NOTIFYs to every member exactly once and in order, within and across turns', async () => {
      const server = await startServer();
      const members = await Promise.all(range(3).map(async (i) => {
        const client = await connect(version, server.url, '/layout', { transport });
        await client.request('JOIN', json({ room: 'burst', name: `m${i}` }));
        return client;
      }));
      const publisher = await connect('v4', server.url, '/layout');
      // 150 written back to back (they reach the server together and are relayed in few
      // turns), then 150 spread over many turns.
      for (const n of range(150)) publisher.emit('NOTIFY', json({ room: 'burst', message: n }));
      for (const n of range(150)) {
        publisher.emit('NOTIFY', json({ room: 'burst', message: 150 + n }));
        if (n % 10 === 9) await sleep(1);
      }
      const expected = range(300).map((n) => ({ sender: 'unknown', room: 'burst', message: n }));
      for (const member of members) expect(await events(member, 300)).toEqual(expected);
      for (const member of members) expect(await member.drain('EVENT')).toEqual([]);
    });
  });

  it('keeps each socket\'s order when room broadcasts, direct emits and acks are mixed in one turn', async () => {
    const server = await startServer();
    const nsp = joinedNamespace(server, '/mixed');
    nsp.on('connection', (socket) => {
      // The ack is sent in the middle of a turn full of broadcasts and direct emits.
      socket.on('PING', (ack: (reply: string) => void) => {
        socket.emit('EVENT', { n: -1 });
        ack('pong');
        socket.emit('EVENT', { n: -2 });
      });
    });
    const clients = await Promise.all(range(20).map(() => connect('v4', server.url, '/mixed')));
    const sockets = [...nsp.sockets.values()];
    let n = 0;
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 30; i++, n++) {
        if (n % 3 === 0) for (const socket of sockets) socket.emit('EVENT', { n });
        else if (n % 3 === 1) nsp.to('all').emit('EVENT', { n });
        else nsp.emit('EVENT', { n });
      }
      await nextTurn();
    }
    for (const client of clients) expect(await events(client, n)).toEqual(range(n).map((i) => ({ n: i })));
    expect(await clients[0].request('PING')).toEqual(['pong']);
    expect(await events(clients[0], 2)).toEqual([{ n: -1 }, { n: -2 }]);
  });

  /** The only WebSocket connection of `server`, with its writes to the kernel counted. */
  function countWrites(server: TestServer): { readonly count: number; reset(): void } {
    const raw = engineSocketOf(server).transport.socket?._socket as NetSocket & {
      _write: (...args: unknown[]) => void;
      _writev: (...args: unknown[]) => void;
    };
    let count = 0;
    const write = raw._write.bind(raw);
    const writev = raw._writev.bind(raw);
    raw._write = (...args) => {
      count++;
      write(...args);
    };
    raw._writev = (...args) => {
      count++;
      writev(...args);
    };
    return {
      get count() {
        return count;
      },
      reset: () => {
        count = 0;
      },
    };
  }

  it('writes what one turn sends a WebSocket in one go, not one write per packet', async () => {
    const server = await startServer();
    const nsp = joinedNamespace(server, '/counted');
    const client = await connect('v4', server.url, '/counted');
    const writes = countWrites(server);
    // Room broadcasts: Socket.IO's pre-encoded WebSocket frames.
    for (const n of range(100)) nsp.to('all').emit('EVENT', { n });
    expect(await events(client, 100)).toEqual(range(100).map((n) => ({ n })));
    // Uncoalesced, each broadcast is one write of its own: 100. The server was idle, so the
    // first went out at once and the 99 others together.
    expect(writes.count).toBeLessThanOrEqual(2);

    writes.reset();
    for (let turn = 0; turn < 5; turn++) {
      for (const n of range(20)) nsp.to('all').emit('EVENT', { n });
      await nextTurn();
    }
    expect(await events(client, 100)).toHaveLength(100);
    expect(writes.count).toBeLessThanOrEqual(10);
  });

  it('sends a lone message at once when the server is idle, and holds back what follows it in the turn', async () => {
    const server = await startServer();
    const nsp = joinedNamespace(server, '/lone');
    const client = await connect('v4', server.url, '/lone');
    const writes = countWrites(server);
    await sleep(20);
    nsp.to('all').emit('EVENT', { n: 0 });
    expect(writes.count).toBe(1);
    nsp.to('all').emit('EVENT', { n: 1 });
    nsp.to('all').emit('EVENT', { n: 2 });
    expect(writes.count).toBe(1);
    expect(await events(client, 3)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(writes.count).toBe(2);
  });

  it('sends what was written before a disconnect, then the disconnect', async () => {
    const server = await startServer();
    const client = await connect('v4', server.url, '/layout');
    const [socket] = server.service.io.of('/layout').sockets.values();
    socket.emit('EVENT', { last: true });
    socket.disconnect(true);
    expect(await client.nextValue('EVENT')).toEqual({ last: true });
    expect(await client.disconnected).toBe('io server disconnect');
  });

  it('keeps delivering in order to a client that upgraded from polling to WebSocket', async () => {
    const server = await startServer();
    const socket: ClientSocket = ioV4(`${server.url}/layout`, { forceNew: true, reconnection: false, transports: ['polling', 'websocket'] });
    try {
      const received: number[] = [];
      socket.on('EVENT', (event: { message: number }) => received.push(event.message));
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      await new Promise<void>((resolve) => socket.emit('JOIN', json({ room: 'upgraded', name: 'tv' }), () => resolve()));
      await expect.poll(() => socket.io.engine.transport.name, { timeout: 5000 }).toBe('websocket');
      const publisher = await connect('v4', server.url, '/layout');
      for (const n of range(200)) publisher.emit('NOTIFY', json({ room: 'upgraded', message: n }));
      await expect.poll(() => received.length, { timeout: 5000 }).toBe(200);
      expect(received).toEqual(range(200));
    } finally {
      socket.close();
    }
  });

  describe('a client that stops reading', () => {
    const PAYLOAD = 'x'.repeat(50_000);
    const MESSAGES = 300; // 15 MB: well past what the kernel buffers hold for one socket

    async function stalledRoom(server: TestServer) {
      const nsp = joinedNamespace(server, '/stall');
      const join = async () => {
        const socket = ioV4(`${server.url}/stall`, { forceNew: true, reconnection: false, transports: ['websocket'] });
        await new Promise<void>((resolve, reject) => {
          socket.on('connect', () => resolve());
          socket.on('connect_error', reject);
        });
        const received: number[] = [];
        socket.on('EVENT', (event: { n: number }) => received.push(event.n));
        return { socket, received };
      };
      const stalled = await join();
      const readers = await Promise.all(range(3).map(() => join()));
      const netSocket = (stalled.socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
      netSocket.pause();
      /** 10 messages (500 KB) a turn, a few ms apart: what the readers can take as it comes. */
      const publish = async () => {
        for (const n of range(MESSAGES)) {
          nsp.to('all').emit('EVENT', { n, payload: PAYLOAD });
          if (n % 10 === 9) await sleep(5);
        }
      };
      return { stalled, readers, netSocket, publish, close: () => [stalled, ...readers].forEach(({ socket }) => socket.close()) };
    }

    it('does not hold up the others, and gets everything in order once it reads again', async () => {
      const server = await startServer({ maxQueuedBytes: 1_000_000_000 });
      const { stalled, readers, netSocket, publish, close } = await stalledRoom(server);
      try {
        await publish();
        for (const reader of readers) await expect.poll(() => reader.received.length, { timeout: 10_000 }).toBe(MESSAGES);
        for (const reader of readers) expect(reader.received).toEqual(range(MESSAGES));
        // The stalled client's share waits in the server (engine.io's buffer or the socket's).
        const engine = engineSocketOf(server, stalled.socket.io.engine.id);
        expect(engine.writeBuffer.length + (engine.transport.socket?.bufferedAmount ?? 0)).toBeGreaterThan(0);
        expect(stalled.received.length).toBeLessThan(MESSAGES);
        netSocket.resume();
        await expect.poll(() => stalled.received.length, { timeout: 15_000 }).toBe(MESSAGES);
        expect(stalled.received).toEqual(range(MESSAGES));
      } finally {
        close();
      }
    }, 40_000);

    it('is still seen as a slow consumer and disconnected, the others unaffected', async () => {
      const server = await startServer({ maxQueuedBytes: 1_000_000 });
      const { stalled, readers, publish, close } = await stalledRoom(server);
      try {
        const stalledId = stalled.socket.io.engine.id;
        await publish();
        for (const reader of readers) await expect.poll(() => reader.received.length, { timeout: 10_000 }).toBe(MESSAGES);
        for (const reader of readers) expect(reader.received).toEqual(range(MESSAGES));
        // The stalled client reads nothing, its own disconnection included: the server says, at
        // its next sweep.
        const dropped = () => server.records.filter((record) => record.msg === 'slow consumer: disconnecting a client that stopped reading');
        await expect.poll(() => dropped().length).toBe(1);
        // The session id is a credential: it is not logged.
        expect(JSON.stringify(dropped())).not.toContain(stalledId);
        expect(() => engineSocketOf(server, stalledId)).toThrow('no such Engine.IO connection');
        for (const reader of readers) expect(reader.socket.connected).toBe(true);
      } finally {
        close();
      }
    }, 40_000);
  });
});
