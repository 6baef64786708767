import { EventEmitter } from 'node:events';
import http, { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Manager as ManagerV4 } from 'socket.io-client';
import ioV1 from 'socket.io-client-v1';
import ioV2 from 'socket.io-client-v2';
import { Server, type Socket } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { compactListenerTable } from '../../src/engine';
import { connect, sleep, startServer, TRANSPORTS, VERSIONS, type LegacySocket } from '../helpers';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const TOKEN = 'a-client-token-of-some-length';

/** A Manager of any client generation: several namespaces over one Engine.IO connection. */
interface AnyManager {
  socket(nsp: string): LegacySocket;
}

function manager(version: (typeof VERSIONS)[number], url: string, options: Record<string, unknown>): AnyManager {
  if (version === 'v4') return new ManagerV4(url, options) as unknown as AnyManager;
  const legacy = (version === 'v1' ? ioV1 : ioV2) as unknown as { Manager: new (url: string, options: Record<string, unknown>) => AnyManager };
  return new legacy.Manager(url, options);
}

function connected(socket: LegacySocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.on('connect', () => resolve());
    socket.on('connect_error', (error) => reject(error));
    socket.on('error', (error) => reject(new Error(String(error))));
  });
}

const opened: LegacySocket[] = [];
afterEach(() => {
  for (const socket of opened.splice(0)) socket.close();
});

describe('handshake requests are released', () => {
  describe.each(VERSIONS.flatMap((version) => TRANSPORTS.map((transport) => ({ version, transport }))))('$version over $transport', ({ version, transport }) => {
    it('a namespace connected after the handshake still sees its query, headers and url', async () => {
      const server = await startServer({ clientToken: TOKEN });
      const shared = manager(version, server.url, { query: { lobbyId: 'late', token: TOKEN }, transports: [transport], reconnection: false });
      const layout = shared.socket('/layout');
      opened.push(layout);
      await connected(layout);
      await sleep(50);
      // Connected over the same Engine.IO connection, long after its request was let go.
      const lobby = shared.socket('/lobby');
      opened.push(lobby);
      const peers = new Promise<unknown>((resolve) => lobby.on('PEERS', (ids) => resolve(ids)));
      await connected(lobby);
      expect(await peers).toEqual([]);

      const [socket] = server.service.io.of('/lobby').sockets.values() as IterableIterator<Socket>;
      expect(socket.data.lobby).toBe('late');
      expect(socket.handshake.query).toMatchObject({ lobbyId: 'late', token: TOKEN, transport });
      expect(socket.handshake.headers.host).toBe(`127.0.0.1:${server.port}`);
      expect(socket.handshake.url).toMatch(/^\/socket\.io\/\?/);
      expect(socket.handshake.secure).toBe(false);
      expect(socket.handshake.address).toBe('127.0.0.1');
      expect(socket.request).not.toBeInstanceOf(IncomingMessage);
    });
  });

  it('refuses a later namespace when the handshake lacked what it needs, as before', async () => {
    const server = await startServer();
    const shared = manager('v4', server.url, { transports: ['websocket'], reconnection: false });
    const layout = shared.socket('/layout');
    opened.push(layout);
    await connected(layout);
    const lobby = shared.socket('/lobby');
    opened.push(lobby);
    await expect(connected(lobby)).rejects.toThrow(/lobbyId/);
  });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('lets the garbage collector have the request once the connection is open', async () => {
      const server = await startServer();
      let request: WeakRef<IncomingMessage> | undefined;
      server.service.io.engine.on('initial_headers', (_headers: unknown, req: IncomingMessage) => {
        request = new WeakRef(req);
      });
      const client = await connect('v4', server.url, '/layout', { transport });
      expect(await client.request('JOIN', JSON.stringify({ room: 'r', name: 'n' }))).toEqual([]);
      await sleep(50);
      gc();
      await sleep(10);
      gc();
      expect(request).toBeDefined();
      expect(request?.deref()).toBeUndefined();
    });
  });

  it('(control) a plain Socket.IO server keeps it for the life of the connection', async () => {
    const httpServer = http.createServer();
    const io = new Server(httpServer);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    try {
      let request: WeakRef<IncomingMessage> | undefined;
      io.engine.on('initial_headers', (_headers: unknown, req: IncomingMessage) => {
        request = new WeakRef(req);
      });
      const client = await connect('v4', `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`, '/', { transport: 'websocket' });
      await sleep(50);
      gc();
      await sleep(10);
      gc();
      expect(request?.deref()).toBeInstanceOf(IncomingMessage);
      client.close();
    } finally {
      io.close();
    }
  });
});

describe('compactListenerTable', () => {
  it('keeps every listener and the table\'s null prototype, and the emitter works on', () => {
    const emitter = new EventEmitter();
    const calls: string[] = [];
    const symbol = Symbol('event');
    const once = () => calls.push('once');
    const a = () => calls.push('a');
    emitter.on('a', a);
    emitter.on('a', () => calls.push('a2'));
    emitter.once('once', once);
    emitter.on(symbol, () => calls.push('symbol'));
    compactListenerTable(emitter as unknown as { _events?: Record<PropertyKey, unknown> });

    const table = (emitter as unknown as { _events: object })._events;
    expect(Object.getPrototypeOf(table)).toBeNull();
    expect(emitter.eventNames()).toEqual(['a', 'once', symbol]);
    expect(emitter.listenerCount('toString')).toBe(0);
    emitter.emit('a');
    emitter.emit('once');
    emitter.emit('once');
    emitter.emit(symbol);
    expect(calls).toEqual(['a', 'a2', 'once', 'symbol']);
    emitter.off('a', a);
    emitter.on('new', () => calls.push('new'));
    emitter.emit('a');
    emitter.emit('new');
    expect(calls).toEqual(['a', 'a2', 'once', 'symbol', 'a2', 'new']);
    emitter.removeAllListeners();
    expect(emitter.eventNames()).toEqual([]);
  });

  it('leaves an emitter without a table, or with a table of another kind, alone', () => {
    const bare = {} as { _events?: Record<PropertyKey, unknown> };
    compactListenerTable(bare);
    expect(bare._events).toBeUndefined();
    const table = { x: 1 };
    const withPrototype = { _events: table as Record<PropertyKey, unknown> };
    compactListenerTable(withPrototype);
    expect(withPrototype._events).toBe(table);
  });
});
