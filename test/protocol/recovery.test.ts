import { io as ioV4, type Socket as SocketV4 } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, EVENT_TIMEOUT, json, QUIET_PERIOD, sleep, startServer, type TestServer } from '../helpers';

/**
 * Connection-state recovery over real 4.x clients whose TCP connection is cut (not a clean
 * disconnect): what they missed meanwhile arrives once, in order, and they keep rooms, names and
 * public ids; the other clients' wire stays as it was.
 */

const sockets: SocketV4[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

/** A 4.x client that does not reconnect by itself, so that the test says when it comes back. */
async function recoverable(server: TestServer, nsp: string, query?: Record<string, string>) {
  const socket = ioV4(server.url + nsp, { forceNew: true, multiplex: false, reconnection: false, transports: ['websocket'], query });
  sockets.push(socket);
  const events: unknown[][] = [];
  for (const event of ['EVENT', 'CLIENTS', 'JOINED', 'PEERS', 'LEFT', 'RTCSIGNAL', 'ERROR']) {
    socket.on(event, (...args: unknown[]) => events.push([event, ...args]));
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, events };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, sleep(EVENT_TIMEOUT).then(() => Promise.reject(new Error(`${what} within ${EVENT_TIMEOUT} ms`)))]);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + EVENT_TIMEOUT;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${EVENT_TIMEOUT} ms`);
    await sleep(10);
  }
}

/** Cuts the client's TCP connection, as a network cut would, and waits until the server saw it. */
async function cut(server: TestServer, socket: SocketV4, nsp: string): Promise<void> {
  const id = socket.id!;
  const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
  (socket.io.engine.transport as unknown as { ws: { _socket: { destroy(): void } } }).ws._socket.destroy();
  expect(await within(closed, 'client saw the cut')).toBe('transport close');
  await until(() => !server.service.io.of(nsp).sockets.has(id), 'server saw the cut');
}

async function comeBack(socket: SocketV4): Promise<void> {
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.connect();
  await within(connected, 'reconnected');
}

const payloads = (events: unknown[][], event = 'EVENT') => events.filter(([name]) => name === event).map(([, payload]) => payload);

describe('connection-state recovery', () => {
  it.each(['/layout', '/bus'])('gives a 4.x client on %s what it missed while cut off, once and in order, with its rooms and name', async (nsp) => {
    const server = await startServer();
    const tv = await recoverable(server, nsp);
    const other = await connect('v4', server.url, nsp);
    const joined = new Promise((resolve) => tv.socket.emit('JOIN', { room: 'r', name: 'tv' }, resolve));
    await within(joined, 'JOIN acked');
    await other.request('JOIN', { room: 'r', name: 'phone' });
    other.emit('NOTIFY', { room: 'r', message: 0 });
    await until(() => payloads(tv.events).length === 1, 'first EVENT');

    await cut(server, tv.socket, nsp);
    for (const message of [1, 2, 3]) other.emit('NOTIFY', { room: 'r', message });
    other.emit('CLIENTS', { room: 'r' });
    expect(((await other.nextValue('CLIENTS')) as { clients: string[] }).clients.sort()).toEqual(['phone', 'tv']);
    if (nsp === '/bus') {
      const response = await fetch(`${server.url}/bus-message/r`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json(4) });
      expect(response.status).toBe(200);
      expect(await other.nextValue('EVENT')).toEqual({ sender: 'POST', room: 'r', message: 4 });
    }
    await sleep(50);

    await comeBack(tv.socket);
    expect(tv.socket.recovered).toBe(true);
    await sleep(QUIET_PERIOD);
    const expected = nsp === '/bus' ? [0, 1, 2, 3, 4] : [0, 1, 2, 3];
    expect(payloads(tv.events).map((event) => (event as { message: unknown }).message)).toEqual(expected);
    expect(payloads(tv.events).slice(1, 4)).toEqual([1, 2, 3].map((message) => ({ sender: 'phone', room: 'r', message })));

    // Still in the room, under its name.
    other.emit('NOTIFY', { room: 'r', message: 5 });
    await until(() => payloads(tv.events).length === expected.length + 1, 'EVENT after recovery');
    tv.socket.emit('NOTIFY', { room: 'r', message: 'back' });
    expect(await other.nextValue('EVENT')).toEqual({ sender: 'tv', room: 'r', message: 'back' });
    tv.socket.emit('CLIENTS', { room: 'r' });
    await until(() => payloads(tv.events, 'CLIENTS').length === 1, 'CLIENTS');
    expect((payloads(tv.events, 'CLIENTS')[0] as { clients: string[] }).clients.sort()).toEqual(['phone', 'tv']);
    await sleep(QUIET_PERIOD);
    expect(payloads(tv.events).length).toBe(expected.length + 1);
  });

  it('keeps a lobby peer that comes back within the window: no LEFT, no second JOINED or PEERS, same peer id', async () => {
    const server = await startServer();
    const first = await connect('v4', server.url, '/lobby', { query: { lobbyId: 'L' } });
    const firstId = await first.nextValue('JOINED');
    await first.next('PEERS');
    const peer = await recoverable(server, '/lobby', { lobbyId: 'L' });
    await until(() => payloads(peer.events, 'PEERS').length === 1, 'PEERS');
    const peerId = payloads(peer.events, 'JOINED')[0];
    expect(await first.nextValue('JOINED')).toBe(peerId);

    await cut(server, peer.socket, '/lobby');
    first.emit('BROADCAST', { message: 'while away' });
    await comeBack(peer.socket);
    expect(peer.socket.recovered).toBe(true);
    await sleep(QUIET_PERIOD);
    expect(await first.drain('LEFT')).toEqual([]);
    expect(await first.drain('JOINED')).toEqual([]);
    expect(payloads(peer.events, 'JOINED')).toEqual([peerId]);
    expect(payloads(peer.events, 'PEERS')).toEqual([[firstId]]);
    // Its peers still reach it by the id they knew.
    first.emit('RTCSIGNAL', { to: peerId, sdp: 'offer' });
    await until(() => payloads(peer.events, 'RTCSIGNAL').length === 1, 'RTCSIGNAL');
    expect(payloads(peer.events, 'RTCSIGNAL')[0]).toEqual({ to: peerId, sdp: 'offer', from: firstId });
  });

  it('says LEFT for a lobby peer once the window passes without it', async () => {
    const server = await startServer({ recoveryWindow: 400 });
    const first = await connect('v4', server.url, '/lobby', { query: { lobbyId: 'L' } });
    await first.nextValue('JOINED');
    const peer = await recoverable(server, '/lobby', { lobbyId: 'L' });
    await until(() => payloads(peer.events, 'PEERS').length === 1, 'PEERS');
    const peerId = await first.nextValue('JOINED');
    await cut(server, peer.socket, '/lobby');
    expect(await first.drain('LEFT')).toEqual([]);
    expect(await first.nextValue('LEFT')).toBe(peerId);
  });

  it('drops a session whose missed events pass --recovery-session-bytes, and counts it in /metrics', async () => {
    const server = await startServer({ recoverySessionBytes: 1024 });
    const tv = await recoverable(server, '/layout');
    const other = await connect('v4', server.url, '/layout');
    await within(new Promise((resolve) => tv.socket.emit('JOIN', { room: 'r', name: 'tv' }, resolve)), 'JOIN acked');
    other.emit('NOTIFY', { room: 'r', message: 0 });
    await until(() => payloads(tv.events).length === 1, 'first EVENT');
    await cut(server, tv.socket, '/layout');
    for (let i = 0; i < 20; i++) other.emit('NOTIFY', { room: 'r', message: 'x'.repeat(100) });
    other.emit('CLIENTS', { room: 'r' });
    // Dropped: no longer listed.
    expect(await other.nextValue('CLIENTS')).toEqual({ room: 'r', clients: [] });
    await comeBack(tv.socket);
    expect(tv.socket.recovered).toBe(false);
    await sleep(QUIET_PERIOD);
    expect(payloads(tv.events)).toHaveLength(1);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/websocket_recovery_sessions_total\{namespace="\/layout",outcome="session_cap"\} 1/);
  });

  it('recovers from a log that drops an old event for every new one at --recovery-total-bytes, and counts a session whose events it dropped', async () => {
    const server = await startServer({ recoveryTotalBytes: 65_536 });
    const tv = await recoverable(server, '/layout');
    const listener = await connect('v4', server.url, '/layout');
    const other = await connect('v4', server.url, '/layout');
    await within(new Promise((resolve) => tv.socket.emit('JOIN', { room: 'r', name: 'tv' }, resolve)), 'JOIN acked');
    await listener.request('JOIN', { room: 'noise', name: 'listener' });
    /** Fills the log with `count` events for the listener's room, several times over its cap. */
    const noise = async (count: number) => {
      for (let i = 0; i < count; i++) other.emit('NOTIFY', { room: 'noise', message: i });
      other.emit('CLIENTS', { room: 'noise' });
      await other.nextValue('CLIENTS');
    };
    await noise(6000);
    other.emit('NOTIFY', { room: 'r', message: 0 });
    await until(() => payloads(tv.events).length === 1, 'first EVENT');

    await cut(server, tv.socket, '/layout');
    for (const message of [1, 2, 3]) other.emit('NOTIFY', { room: 'r', message });
    await noise(100);
    await comeBack(tv.socket);
    expect(tv.socket.recovered).toBe(true);
    await until(() => payloads(tv.events).length === 4, 'missed EVENTs');
    expect(payloads(tv.events)).toEqual([0, 1, 2, 3].map((message) => ({ sender: 'unknown', room: 'r', message })));

    // Away while more than the cap went by: what it missed first is gone, so it starts afresh.
    await cut(server, tv.socket, '/layout');
    other.emit('NOTIFY', { room: 'r', message: 4 });
    await noise(3000);
    await comeBack(tv.socket);
    expect(tv.socket.recovered).toBe(false);
    await sleep(QUIET_PERIOD);
    expect(payloads(tv.events)).toHaveLength(4);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/websocket_recovery_sessions_total\{namespace="\/layout",outcome="total_cap"\} 1/);
    expect(metrics).toMatch(/websocket_recovery_sessions_total\{namespace="\/layout",outcome="recovered"\} 1/);
  });

  it('sends the offset argument to 4.x clients only: a 2.x client and a raw Engine.IO v3 client see the frames of before', async () => {
    const server = await startServer();
    const v4 = await connect('v4', server.url, '/layout');
    const v2 = await connect('v2', server.url, '/layout');
    const raw = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=3&transport=websocket`);
    const frames: string[] = [];
    raw.on('message', (data) => frames.push(data.toString()));
    await new Promise((resolve) => raw.once('open', resolve));
    raw.send('40/layout,');
    await until(() => frames.some((frame) => frame.startsWith('40/layout')), 'raw CONNECT');
    raw.send('42/layout,0["JOIN",{"room":"r","name":"raw"}]');
    await until(() => frames.includes('43/layout,0[]'), `raw JOIN acked (${frames.join(' ')})`);
    await v4.request('JOIN', { room: 'r', name: 'new' });
    await v2.request('JOIN', { room: 'r', name: 'old' });
    const sender = await connect('v4', server.url, '/layout');
    sender.emit('NOTIFY', { room: 'r', message: { n: 1 } });
    const event = { sender: 'unknown', room: 'r', message: { n: 1 } };
    expect(await v2.next('EVENT')).toEqual([event]);
    const [payload, offset] = await v4.next('EVENT');
    expect(payload).toEqual(event);
    expect(typeof offset).toBe('string');
    await until(() => frames.some((frame) => frame.startsWith('42/layout,')), 'raw EVENT');
    expect(frames.filter((frame) => frame.startsWith('42/layout,'))).toEqual([`42/layout,${json(['EVENT', event])}`]);
    raw.close();
  });
});
