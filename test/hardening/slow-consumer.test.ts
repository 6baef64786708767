import fs from 'node:fs';
import { io as ioV4, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { json, sleep, startCli } from '../helpers';

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
