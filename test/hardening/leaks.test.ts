/**
 * Short churn: 2 000 client sessions, in waves of 200, over every namespace and both Engine.IO
 * versions and transports. Each session joins rooms (with names), publishes, asks, leaves some,
 * and then goes away in one of several ways: polite namespace disconnect, WebSocket close,
 * terminate, TCP reset, Engine.IO close packet (polling), or being thrown out by the server for a
 * malformed frame. Afterwards the node must hold nothing for any of them: no room, no sid, no
 * socket in any namespace, no Engine.IO session, no TCP connection, and (when a garbage
 * collection can be forced) no heap growth worth speaking of. bench/soak.js is the long version.
 */
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import pino from 'pino';
import { io as ioV4 } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type WebsocketService } from '../../src';
import { EVENT_TIMEOUT, sleep } from '../helpers';
import { RawClient, RawPolling } from '../support/raw-client';

// ---------------------------------------------------------------------------------------------
// Plumbing

const NAMESPACES = ['/', '/layout', '/bus', '/lobby', '/trigger'];
const WAVES = 10;
const WAVE_SIZE = 200;
/**
 * Heap growth allowed across the churn, after forced garbage collections. Measured: about 2 MB,
 * the same for 6 000 sessions as for 2 000 (no leak); a node that kept each disconnected /layout
 * socket (about 1 000 here) grew by about 12 MB.
 */
const HEAP_GROWTH_LIMIT = 10 * 1024 * 1024;

/** `global.gc` when node runs with --expose-gc; otherwise the same function, obtained at run time. */
function findGc(): (() => void) | undefined {
  if (typeof global.gc === 'function') return () => global.gc?.();
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

async function settledHeap(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

async function until(condition: () => boolean, what: () => string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what()}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// What one session does

interface Tally {
  sessions: number;
  failures: string[];
}

type Ending = 'disconnect' | 'close' | 'terminate' | 'reset';
const ENDINGS: Ending[] = ['disconnect', 'close', 'terminate', 'reset'];

async function end(session: RawClient, how: Ending, namespaces: string[]): Promise<void> {
  if (how === 'disconnect') {
    for (const nsp of namespaces) session.send(`41${nsp},`);
    session.close();
  } else if (how === 'close') session.close();
  else if (how === 'terminate') session.terminate();
  else session.reset();
  await session.closed;
}

/** `/layout` and `/bus` on one session: JOIN 3 rooms each, NOTIFY, CLIENTS, LEAVE one. */
async function roomsSession(port: number, i: number, wave: number, eio: 3 | 4, release: Promise<void>): Promise<void> {
  const session = await RawClient.open(port, eio);
  const namespaces = eio === 3 ? ['/layout'] : ['/layout', '/bus'];
  for (const nsp of namespaces) {
    await session.connectNsp(nsp);
    for (let r = 0; r < 3; r++) {
      expect(await session.request(nsp, 'JOIN', JSON.stringify({ room: `w${wave}-room${(i + r) % 10}`, name: `n${i}` }))).toEqual([]);
    }
    session.emit(nsp, 'NOTIFY', JSON.stringify({ room: `w${wave}-room${i % 10}`, message: { from: i, pad: 'x'.repeat(200) } }));
    session.emit(nsp, 'CLIENTS', { room: `w${wave}-room${i % 10}` });
    await session.nextEvent(nsp, 'CLIENTS');
    expect(await session.request(nsp, 'LEAVE', { room: `w${wave}-room${(i + 1) % 10}` })).toEqual([]);
  }
  await release;
  await end(session, ENDINGS[i % ENDINGS.length], namespaces);
}

/** `/lobby?lobbyId=…`: PEERS, BROADCAST, LEAVE, JOIN another lobby, RTCSIGNAL to itself. */
async function lobbySession(port: number, i: number, wave: number, release: Promise<void>): Promise<void> {
  const session = await RawClient.open(port, 4, `&lobbyId=w${wave}-lobby${i % 5}`);
  await session.connectNsp('/lobby');
  await session.nextEvent('/lobby', 'PEERS');
  session.emit('/lobby', 'BROADCAST', { message: i });
  await session.nextEvent('/lobby', 'MESSAGE');
  if (i % 2) {
    expect(await session.request('/lobby', 'LEAVE', `w${wave}-lobby${i % 5}`)).toEqual([]);
    expect(await session.request('/lobby', 'JOIN', `w${wave}-other${i % 3}`)).toEqual([]);
  }
  await release;
  await end(session, ENDINGS[(i >> 1) % ENDINGS.length], ['/lobby']);
}

/** `/trigger`: JOIN two rooms, BROADCAST_STATUS, LEAVE one. */
async function triggerSession(port: number, i: number, wave: number, release: Promise<void>): Promise<void> {
  const session = await RawClient.open(port, i % 2 ? 3 : 4);
  await session.connectNsp('/trigger');
  expect(await session.request('/trigger', 'JOIN', `w${wave}-t${i % 7}`)).toEqual([]);
  expect(await session.request('/trigger', 'JOIN', `w${wave}-t${(i + 1) % 7}`)).toEqual([]);
  session.emit('/trigger', 'BROADCAST_STATUS', `w${wave}-t${i % 7}`, { status: i });
  expect(await session.request('/trigger', 'LEAVE', `w${wave}-t${(i + 1) % 7}`)).toEqual([]);
  await release;
  await end(session, ENDINGS[(i >> 2) % ENDINGS.length], ['/trigger']);
}

/** Thrown out by the server: joins a room, then sends a frame the decoder cannot read. */
async function hostileSession(port: number, i: number, wave: number, release: Promise<void>): Promise<void> {
  const session = await RawClient.open(port, 4);
  await session.connectNsp('/layout');
  expect(await session.request('/layout', 'JOIN', { room: `w${wave}-room${i % 10}`, name: `bad${i}` })).toEqual([]);
  // Refused namespaces leave nothing behind either.
  expect(await session.connectReply('/nope')).toBe('44/nope,{"message":"Invalid namespace"}');
  expect(await session.connectReply('/lobby')).toMatch(/^44\/lobby,.*lobbyId/);
  await release;
  session.send(['42/layout,[]', '451-/layout,["NOTIFY",{"_placeholder":true,"num":"x"}]', '9'][i % 3]);
  if (i % 3 === 1) session.send(Buffer.from([1]));
  await session.closed;
}

/** socket.io-client 4 over WebSocket, as real clients are. */
async function clientLibrarySession(port: number, i: number, wave: number, release: Promise<void>): Promise<void> {
  const socket = ioV4(`http://127.0.0.1:${port}/layout`, { forceNew: true, multiplex: false, reconnection: false, transports: ['websocket'] });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  await socket.timeout(EVENT_TIMEOUT).emitWithAck('JOIN', JSON.stringify({ room: `w${wave}-room${i % 10}`, name: `lib${i}` }));
  socket.emit('NOTIFY', JSON.stringify({ room: `w${wave}-room${(i + 3) % 10}`, message: 'from the library' }));
  await release;
  const gone = new Promise((resolve) => socket.once('disconnect', resolve));
  socket.disconnect();
  await gone;
}

/** Long-polling (v4, and v3 with base64 framing): connect /bus, JOIN, then the Engine.IO close packet. */
async function pollingSession(port: number, i: number, wave: number, release: Promise<void>): Promise<void> {
  const session = await RawPolling.open(port, i % 2 ? 3 : 4);
  const post = async (packet: string) => expect((await session.post(packet)).text).toBe('ok');
  await post('40/bus,');
  // Read until /bus's connect reply arrives (v3 gets the main namespace's 40 first).
  for (let polls = 0; !(await session.poll()).text.includes('40/bus,'); polls++) expect(polls).toBeLessThan(5);
  await post(`42/bus,0${JSON.stringify(['JOIN', { room: `w${wave}-room${i % 10}`, name: `poll${i}` }])}`);
  for (let polls = 0; !(await session.poll()).text.includes('43/bus,0[]'); polls++) expect(polls).toBeLessThan(5);
  await release;
  await post('1');
}

// ---------------------------------------------------------------------------------------------

describe('churn: 2 000 sessions leave nothing behind', () => {
  let service: WebsocketService;
  let port: number;
  const errors: unknown[] = [];

  beforeAll(async () => {
    // Only errors are kept: a debug log held in memory would itself look like a leak.
    const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line).msg) });
    // A rate limit generous enough never to bite, so that its per-socket state is exercised too.
    service = createServer({ port: 0, host: '127.0.0.1', console: false, eventRate: 10_000, eventBurst: 10_000 }, { logger });
    port = (await service.listen()).port;
  });
  afterAll(async () => {
    await service?.close();
  });

  /** Runs one wave: every session does its work, then all of them go away together. */
  async function wave(index: number, size: number, tally: Tally): Promise<void> {
    let releaseAll!: () => void;
    const release = new Promise<void>((resolve) => (releaseAll = resolve));
    const kinds = [
      (i: number) => roomsSession(port, i, index, 4, release),
      (i: number) => lobbySession(port, i, index, release),
      (i: number) => triggerSession(port, i, index, release),
      (i: number) => roomsSession(port, i, index, 3, release),
      (i: number) => hostileSession(port, i, index, release),
      (i: number) => roomsSession(port, i, index, 4, release),
      (i: number) => lobbySession(port, i, index, release),
      (i: number) => triggerSession(port, i, index, release),
      (i: number) => (i % 2 ? clientLibrarySession(port, i, index, release) : pollingSession(port, i, index, release)),
      (i: number) => roomsSession(port, i, index, 4, release),
    ];
    const sessions = Array.from({ length: size }, (_, i) =>
      kinds[i % kinds.length](i).then(
        () => void tally.sessions++,
        (error: unknown) => void tally.failures.push(`wave ${index} #${i}: ${(error as Error).message}`),
      ),
    );
    // Everyone in before anyone leaves, so that rooms really are shared; this also shows that
    // the maps checked at the end do fill up.
    await until(
      () => NAMESPACES.slice(1).every((name) => service.io.of(name).adapter.rooms.size > 0) || tally.failures.length > 0,
      () => 'every namespace to have rooms',
    );
    await sleep(50);
    releaseAll();
    await Promise.all(sessions);
  }

  it('maps, sessions and connections are empty after the churn; the heap is back near its baseline', async () => {
    const gc = findGc();
    const tally: Tally = { sessions: 0, failures: [] };
    await wave(-1, WAVE_SIZE, tally); // warm-up: code paths compiled, pools allocated
    const baseline = gc ? await settledHeap(gc) : process.memoryUsage().heapUsed;

    const started = Date.now();
    for (let w = 0; w < WAVES; w++) await wave(w, WAVE_SIZE, tally);
    expect(tally.failures.slice(0, 5)).toEqual([]);
    expect(tally.sessions).toBe((WAVES + 1) * WAVE_SIZE);

    const { io, httpServer } = service;
    await until(
      () => io.engine.clientsCount === 0,
      () => `no Engine.IO session left (have ${io.engine.clientsCount})`,
    );
    for (const name of NAMESPACES) {
      const nsp = io.of(name);
      await until(
        () => nsp.sockets.size === 0 && nsp.adapter.rooms.size === 0 && nsp.adapter.sids.size === 0,
        () => `${name} to be empty (sockets ${nsp.sockets.size}, rooms ${nsp.adapter.rooms.size}, sids ${nsp.adapter.sids.size})`,
        2000,
      );
      expect({ name, sockets: nsp.sockets.size, rooms: nsp.adapter.rooms.size, sids: nsp.adapter.sids.size }).toEqual({ name, sockets: 0, rooms: 0, sids: 0 });
    }
    expect(Object.keys((io.engine as unknown as { clients: Record<string, unknown> }).clients)).toEqual([]);
    // No namespace was created by the clients that asked for unknown ones.
    expect([...io._nsps.keys()].sort()).toEqual([...NAMESPACES].sort());
    const connections = () => new Promise<number>((resolve, reject) => httpServer.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    let open = await connections();
    for (let tries = 0; open > 0 && tries < 100; tries++) {
      await sleep(20);
      open = await connections();
    }
    expect(open).toBe(0);
    expect(errors).toEqual([]);

    const after = gc ? await settledHeap(gc) : process.memoryUsage().heapUsed;
    const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    console.log(
      `churn: ${WAVES * WAVE_SIZE} sessions in ${((Date.now() - started) / 1000).toFixed(1)} s; heapUsed ${mb(baseline)} MB -> ${mb(after)} MB ` +
        `(${gc ? 'after forced GC' : 'no GC available: not asserted'}); server ${(httpServer.address() as AddressInfo).port}`,
    );
    if (gc) expect(after - baseline).toBeLessThan(HEAP_GROWTH_LIMIT);
  }, 90_000);
});
