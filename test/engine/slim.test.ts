import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { Socket } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { compactListenerTable } from '../../src/engine';
import { SmallMap } from '../../src/engine/small-map';
import { connect, sleep, startServer, TRANSPORTS, VERSIONS, type TestClient } from '../helpers';

type Table = { _events?: Record<PropertyKey, unknown> };

describe('SmallMap', () => {
  /** The same operations on a SmallMap and a Map, compared after each step. */
  const steps: [string, (map: Map<unknown, unknown>) => unknown][] = [
    ['empty get', (map) => map.get('a')],
    ['set a', (map) => map.set('a', 1).size],
    ['set a again', (map) => map.set('a', 2).get('a')],
    ['has a, has b', (map) => [map.has('a'), map.has('b')]],
    ['delete b (absent)', (map) => map.delete('b')],
    ['set b (second entry)', (map) => map.set('b', 3).size],
    ['set -0 then read +0', (map) => map.set(-0, 'zero').get(0)],
    ['set NaN', (map) => map.set(NaN, 'nan').get(NaN)],
    ['entries in order', (map) => [...map]],
    ['keys and values', (map) => [[...map.keys()], [...map.values()]]],
    ['delete a', (map) => [map.delete('a'), map.size, map.get('a')]],
    ['clear', (map) => (map.clear(), map.size)],
    ['set c after clear', (map) => [map.set('c', 4).size, [...map.entries()]]],
    ['delete c (the only entry)', (map) => [map.delete('c'), map.size, map.has('c'), [...map]]],
  ];

  it('answers every operation as a Map does, through one entry, several, and none', () => {
    const small = new SmallMap<unknown, unknown>();
    const real = new Map<unknown, unknown>();
    for (const [name, step] of steps) expect([name, step(small)]).toEqual([name, step(real)]);
    expect(Object.prototype.toString.call(small)).toBe('[object Map]');
  });

  it('takes its entries from an iterable, and iterates a copy: what a walk deletes, it has already seen', () => {
    const small = new SmallMap([['a', 1], ['b', 2], ['c', 3]]);
    const seen: string[] = [];
    for (const [key] of small) {
      seen.push(key);
      small.delete(key);
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(small.size).toBe(0);
    const one = new SmallMap([['x', 1]]);
    const visited: unknown[] = [];
    one.forEach(function (this: unknown, value, key, map) {
      visited.push(this, value, key, map === one);
    }, 'self');
    expect(visited).toEqual(['self', 1, 'x', true]);
  });
});

describe('compactListenerTable, what it does on the way', () => {
  it('puts a `once` listener of an event that fires once in place of its wrapper, and leaves other events\' wrappers', () => {
    const emitter = new EventEmitter();
    const calls: string[] = [];
    const onClose = () => calls.push('close');
    const onData = () => calls.push('data');
    emitter.once('close', onClose);
    emitter.on('close', () => calls.push('close2'));
    emitter.once('data', onData);
    compactListenerTable(emitter as unknown as Table, ['close']);
    expect(emitter.rawListeners('close')[0]).toBe(onClose);
    expect(emitter.rawListeners('data')[0]).not.toBe(onData);
    emitter.emit('close');
    emitter.emit('data');
    emitter.emit('data');
    expect(calls).toEqual(['close', 'close2', 'data']);
    // Removal by the listener finds it as before.
    emitter.removeListener('close', onClose);
    expect(emitter.listenerCount('close')).toBe(1);
  });

  it('keeps the lists\' listeners and order when it copies them to their own length', () => {
    const emitter = new EventEmitter();
    const calls: number[] = [];
    for (let i = 0; i < 5; i++) emitter.on('x', () => calls.push(i));
    const before = emitter.rawListeners('x');
    compactListenerTable(emitter as unknown as Table);
    expect(emitter.rawListeners('x')).toEqual(before);
    emitter.emit('x');
    expect(calls).toEqual([0, 1, 2, 3, 4]);
  });

  it('rewrites a stream\'s table of fixed shape in place', () => {
    const stream = new Readable({ read() {} });
    const onClose = () => {};
    stream.once('close', onClose);
    const table = (stream as unknown as Table)._events;
    compactListenerTable(stream as unknown as Table, ['close']);
    expect((stream as unknown as Table)._events).toBe(table);
    expect(stream.rawListeners('close')).toContain(onClose);
  });
});

interface Internals {
  handshake: { auth: object };
  client: { decoder: { opts: object }; sockets: Map<string, Socket>; nsps: Map<string, Socket>; conn: EmitterWith & { transport: EmitterWith & { socket?: EmitterWith & { _socket?: EmitterWith; _receiver?: { _mask?: unknown } } } } };
  acks: Map<number, unknown>;
}
interface EmitterWith {
  rawListeners(event: string): ((...args: unknown[]) => unknown)[];
}

const opened: TestClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});

describe('a connection, once its namespaces are connected', () => {
  describe.each(VERSIONS.flatMap((version) => TRANSPORTS.map((transport) => ({ version, transport }))))('$version over $transport', ({ version, transport }) => {
    it('keeps small maps and no `once` wrappers on close, lets go of the last frame, and relays and closes as before', async () => {
      const server = await startServer();
      const member = await connect(version, server.url, '/layout', { transport });
      const publisher = await connect('v4', server.url, '/layout', { transport: 'websocket' });
      opened.push(member, publisher);
      expect(await member.request('JOIN', JSON.stringify({ room: 'r', name: 'member' }))).toEqual([]);
      publisher.emit('NOTIFY', JSON.stringify({ room: 'r', message: 'hello' }));
      // (A 4.x member that may recover also gets the event's offset.)
      expect((await member.next('EVENT'))[0]).toEqual({ sender: 'unknown', room: 'r', message: 'hello' });

      const socket = server.service.io.of('/layout').sockets.get(member.id) as unknown as Internals;
      expect(socket.client.sockets).toBeInstanceOf(SmallMap);
      expect(socket.client.nsps).toBeInstanceOf(SmallMap);
      expect(socket.acks).toBeInstanceOf(SmallMap);
      expect(socket.client.nsps.get('/layout')).toBe(socket);
      // What every connection has alike is one object for all: an empty auth, the decoder's options.
      const other = server.service.io.of('/layout').sockets.get(publisher.id) as unknown as Internals;
      expect(socket.handshake.auth).toEqual({});
      expect(socket.handshake.auth).toBe(other.handshake.auth);
      expect(socket.client.decoder.opts).toBe(other.client.decoder.opts);
      const connection = socket.client.conn;
      const ws = connection.transport.socket;
      const emitters = [connection, connection.transport, ...(ws ? [ws, ws._socket!] : [])];
      const wrapped = emitters.flatMap((emitter) => emitter.rawListeners('close').filter((listener) => 'listener' in listener));
      expect(wrapped).toEqual([]);
      if (ws) expect(ws._receiver!._mask).toBeUndefined();

      member.close();
      await sleep(100);
      expect(server.service.io.of('/layout').sockets.size).toBe(1);
      expect(server.service.io.engine.clientsCount).toBe(1);
      const again = await connect(version, server.url, '/layout', { transport });
      opened.push(again);
      expect(await again.request('JOIN', JSON.stringify({ room: 'r', name: 'again' }))).toEqual([]);
      publisher.emit('CLIENTS', JSON.stringify({ room: 'r' }));
      expect(await publisher.next('CLIENTS')).toEqual([{ room: 'r', clients: ['again'] }]);
    });
  });
});
