import fs from 'node:fs';
import type net from 'node:net';
import { io as ioV4, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { forEachSessionWithData, queuedBytes } from '../../src/engine';
import { connect, json, sleep, startCli, startServer } from '../helpers';

const STALLED = 100;
const READERS = 5;
const MESSAGES = 600;
const PAYLOAD = 'x'.repeat(20_000); // 20 KB: 12 MB per client over the run, three times the limit
const RSS_BOUND = 400 * 1024 * 1024; // bytes: without the limit the stalled clients alone would queue 1.2 GB

function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

function client(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = ioV4(`${url}/layout`, { forceNew: true, transports: ['websocket'], reconnection: false });
    socket.on('connect', () => socket.emit('JOIN', json({ room: 'busy', name: 'n' }), () => resolve(socket)));
    socket.on('connect_error', reject);
  });
}

describe('slow consumers', () => {
  it('disconnects clients that stop reading, keeps RSS bounded, and the readers get everything in order', async () => {
    const server = await startCli(['--max-queued-bytes', '4000000']);
    const { child, port } = server;
    const url = `http://127.0.0.1:${port}`;
    const stalled = await Promise.all(Array.from({ length: STALLED }, () => client(url)));
    const readers = await Promise.all(Array.from({ length: READERS }, () => client(url)));
    const received = readers.map(() => [] as number[]);
    readers.forEach((reader, i) => reader.on('EVENT', (event: { message: { n: number } }) => received[i].push(event.message.n)));
    const stalledGone = stalled.map((socket) => new Promise<void>((resolve) => socket.on('disconnect', () => resolve())));
    // Stop reading: the kernel buffers fill, then the server's queue for each grows.
    for (const socket of stalled) (socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void } } }).ws._socket.pause();

    const publisher = await client(url);
    let peak = 0;
    for (let n = 0; n < MESSAGES; n++) {
      publisher.emit('NOTIFY', json({ room: 'busy', message: { n, payload: PAYLOAD } }));
      if (n % 50 === 49) {
        await sleep(20);
        peak = Math.max(peak, rssOf(child.pid!));
      }
    }
    await Promise.all(stalledGone);
    await expect.poll(() => received.map((list) => list.length), { timeout: 15_000 }).toEqual(readers.map(() => MESSAGES));
    for (const list of received) expect(list).toEqual(Array.from({ length: MESSAGES }, (_, n) => n));
    peak = Math.max(peak, rssOf(child.pid!));
    expect(peak).toBeLessThan(RSS_BOUND);
    const slowLogs = server.records().filter((line) => line.msg === 'slow consumer: disconnecting a client that stopped reading');
    expect(slowLogs).toHaveLength(STALLED);
    for (const log of slowLogs) expect(log.queuedBytes as number).toBeGreaterThan(4_000_000);
    for (const socket of [...readers, publisher]) expect(socket.connected).toBe(true);
    for (const socket of [...stalled, ...readers, publisher]) socket.close();
  }, 60_000);
});

/**
 * The timeline service and the editor keep sockets they only send on and never read (Python's
 * socketIO-client, Engine.IO v3): all that comes back to them is the pong to each of their pings,
 * which carries no data. Such a socket must never look like a slow consumer, however much it sends.
 */
describe('send-only clients', () => {
  const SENT = 300;
  const EVENT = (i: number) => `42/trigger,${JSON.stringify(['BROADCAST_UPDATES', 'R', { i, pad: 'x'.repeat(2000) }])}`;

  /** An Engine.IO v3 WebSocket session on /trigger that stops reading from its TCP socket. */
  async function deafWebSocket(port: number): Promise<{ send(packet: string): void; closed: () => boolean; terminate(): void }> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=3&transport=websocket`);
    let closed = false;
    ws.on('close', () => (closed = true));
    ws.on('error', () => {});
    const received: string[] = [];
    ws.on('message', (data) => received.push(data.toString()));
    await expect.poll(() => received.includes('40'), { timeout: 3000 }).toBe(true);
    ws.send('40/trigger,');
    await expect.poll(() => received.some((packet) => packet.startsWith('40/trigger')), { timeout: 3000 }).toBe(true);
    (ws as unknown as { _socket: net.Socket })._socket.pause();
    return { send: (packet) => ws.send(packet), closed: () => closed, terminate: () => ws.terminate() };
  }

  /** An Engine.IO v3 long-polling session on /trigger that stops polling once connected. */
  async function deafPolling(url: string): Promise<{ send(...packets: string[]): Promise<void> }> {
    const handshake = await (await fetch(`${url}/socket.io/?EIO=3&transport=polling&b64=1`)).text();
    const base = `${url}/socket.io/?EIO=3&transport=polling&b64=1&sid=${/"sid":"([^"]+)"/.exec(handshake)![1]}`;
    const send = async (...packets: string[]) => {
      const body = packets.map((packet) => `${packet.length}:${packet}`).join('');
      const response = await fetch(base, { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
      expect(await response.text()).toBe('ok');
    };
    await send('40/trigger,');
    let answers = '';
    while (!answers.includes('40/trigger')) answers += await (await fetch(base)).text();
    return { send };
  }

  it('an Engine.IO v3 client that sends far more than --max-queued-bytes, pings, and never reads or polls again is kept', async () => {
    const server = await startServer({ maxQueuedBytes: 65_536, console: false });
    const { io } = server.service;
    const reader = await connect('v4', server.url, '/trigger');
    await reader.request('JOIN', 'R');
    const webSocket = await deafWebSocket(server.port);
    const polling = await deafPolling(server.url);
    const senders = [...io.of('/trigger').sockets.values()].filter((socket) => socket.conn.protocol === 3).map((socket) => socket.conn);
    expect(senders).toHaveLength(2);

    // Over about two seconds (eight slow-consumer sweeps): 600 KB from each, and 200 pings, whose
    // pongs wait for the poll that never comes (on WebSocket, in the socket buffers).
    const pings = Array.from({ length: 10 }, () => '2');
    let peak = 0;
    for (let i = 0; i < SENT; i += 15) {
      for (let k = 0; k < 15; k++) webSocket.send(EVENT(2 * (i + k)));
      for (const ping of pings) webSocket.send(ping);
      await polling.send(...Array.from({ length: 15 }, (_, k) => EVENT(2 * (i + k) + 1)), ...pings);
      await sleep(100);
      peak = Math.max(peak, ...senders.map(queuedBytes));
    }
    let relayed = 0;
    await expect.poll(async () => (relayed += (await reader.drain('UPDATES')).length), { timeout: 5000 }).toBe(2 * SENT);
    await sleep(600);
    expect(server.records.filter((record) => /slow consumer/.test(String(record.msg)))).toEqual([]);
    expect(webSocket.closed()).toBe(false);
    expect(senders.every((socket) => socket.readyState === 'open')).toBe(true);
    expect(peak).toBeLessThan(1000);
    webSocket.terminate();
    await polling.send('1');
  }, 30_000);
});

describe('the slow-consumer sweep', () => {
  it('visits no session of an idle node, before or after a NOTIFY to all of them, and a session just written to', async () => {
    const server = await startServer();
    const members = await Promise.all(Array.from({ length: 20 }, () => client(server.url)));
    const publisher = await connect('v4', server.url, '/layout', { transport: 'websocket' });
    const visited = () => {
      const sessions: number[] = [];
      forEachSessionWithData(server.service.io.engine, (_socket, bytes) => sessions.push(bytes));
      return sessions;
    };
    // The sweep (every 250 ms) finds each session empty and forgets it.
    await sleep(600);
    expect(visited()).toEqual([]);

    // A packet written to one session marks it at once: the next sweep visits it, and it alone.
    const [target] = server.service.io.of('/layout').sockets.values();
    target.emit('EVENT', { sender: 'server', room: 'busy', message: 'to one' });
    expect(visited()).toHaveLength(1);

    const delivered = Promise.all(members.map((member) => new Promise((resolve) => member.on('EVENT', (event: { sender: string }) => event.sender === 'unknown' && resolve(event)))));
    publisher.emit('NOTIFY', json({ room: 'busy', message: 'hello' }));
    await delivered;
    // What the NOTIFY wrote is gone to the kernel: the next sweep forgets those sessions again.
    await sleep(600);
    expect(visited()).toEqual([]);
    for (const member of members) member.close();
    publisher.close();
  });
});
