/**
 * Slow consumers over long-polling and connections that stop taking what they are sent: what
 * waits in the server's socket buffers, Node's and the kernel's, is counted and let go.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { io as ioV4 } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { connect, json, sleep, startCli, type CliServer } from '../helpers';

const MAX_QUEUED = 4_000_000;

function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

/**
 * Bytes in the kernel send queues of the server's side of its connections: the tx_queue of the
 * sockets bound to `port` in /proc/net/tcp (established ones, and those closed but still
 * delivering), of all of them or of those to the given client ports.
 */
function sendQueueOf(port: number, peers?: Set<number>): number {
  let bytes = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5 || parseInt(fields[1].split(':')[1], 16) !== port) continue;
      if (peers && !peers.has(parseInt(fields[2].split(':')[1], 16))) continue;
      bytes += parseInt(fields[4].split(':')[0], 16);
    }
  }
  return bytes;
}

/** One HTTP request on a connection of its own, read in full. */
function request(port: number, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8', 'content-length': Buffer.byteLength(body) };
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An Engine.IO v4 long-polling session on /layout that joined `room`, set up by a client that reads; returns its poll path. */
async function pollingMember(port: number, room: string): Promise<string> {
  const handshake = await request(port, 'GET', '/socket.io/?EIO=4&transport=polling');
  const sid = /"sid":"([^"]+)"/.exec(handshake.text)![1];
  const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  expect((await request(port, 'POST', path, '40/layout,')).text).toBe('ok');
  expect((await request(port, 'GET', path)).text).toMatch(/^40\/layout,/);
  expect((await request(port, 'POST', path, `42/layout,0${JSON.stringify(['JOIN', json({ room, name: 'poller' })])}`)).text).toBe('ok');
  expect((await request(port, 'GET', path)).text).toContain('43/layout,0');
  return path;
}

/**
 * A poll on a new keep-alive connection, of which only the first chunk is read (enough to see the
 * status line), then nothing more. Resolves with the status line, the chunk's size and the connection.
 */
function pollWithoutReading(port: number, path: string): Promise<{ status: string; read: number; connection: net.Socket }> {
  const connection = net.connect(port, '127.0.0.1');
  connection.on('error', () => {});
  return new Promise((resolve) => {
    connection.once('data', (chunk: Buffer) => {
      connection.pause();
      resolve({ status: chunk.subarray(0, 12).toString('latin1'), read: chunk.length, connection });
    });
    connection.once('close', () => resolve({ status: 'closed', read: 0, connection }));
    connection.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
}

/** Reads the rest of a connection: resolves with the bytes it still delivered when it closed, or after `ms`. */
function restOf(connection: net.Socket, ms: number): Promise<{ bytes: number; closed: boolean }> {
  return new Promise((resolve) => {
    let bytes = 0;
    const timer = setTimeout(() => resolve({ bytes, closed: false }), ms);
    connection.on('data', (chunk: Buffer) => (bytes += chunk.length));
    connection.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes, closed: true });
    });
    connection.resume();
  });
}

function slowConsumerLogs(server: CliServer) {
  return server.records().filter((record) => record.msg === 'slow consumer: disconnecting a client that stopped reading');
}

describe('slow consumers on long-polling', () => {
  it('cuts a polling client that reads none of its answers, a new connection per poll, resets those connections, and keeps memory bounded', async () => {
    const ATTACKERS = 3;
    const MESSAGES = 160;
    const PAYLOAD = 'x'.repeat(100_000); // 100 KB NOTIFYs, up to 40 a second: 16 MB to each member in all
    const server = await startCli(['--max-queued-bytes', String(MAX_QUEUED)]);
    const { child, port } = server;
    const url = `http://127.0.0.1:${port}`;
    const room = 'busy';
    const readers = await Promise.all([connect('v2', url, '/layout', { transport: 'polling' }), connect('v4', url, '/layout', { transport: 'polling' }), connect('v4', url, '/layout')]);
    for (const reader of readers) await reader.request('JOIN', json({ room, name: reader.version }));
    const paths = await Promise.all(Array.from({ length: ATTACKERS }, () => pollingMember(port, room)));
    const publisher = await connect('v4', url, '/layout');

    // Each attacker polls on a new connection every 150 ms, and reads nothing of the answers.
    let publishing = true;
    let sent = 0;
    const connections: net.Socket[] = [];
    const clientPorts = new Set<number>();
    const attacks = paths.map(async (path) => {
      while (publishing) {
        const { status, connection } = await pollWithoutReading(port, path);
        connections.push(connection);
        clientPorts.add(connection.localPort!);
        if (status !== 'HTTP/1.1 200') return { status, sent };
        await sleep(150);
      }
      return { status: 'never cut', sent };
    });

    const rssBefore = rssOf(child.pid!);
    let rssPeak = rssBefore;
    let queuePeak = 0;
    while (sent < MESSAGES) {
      publisher.emit('NOTIFY', json({ room, message: { n: sent++, payload: PAYLOAD } }));
      await sleep(25);
      if (sent % 10 === 0) {
        rssPeak = Math.max(rssPeak, rssOf(child.pid!));
        queuePeak = Math.max(queuePeak, sendQueueOf(port));
      }
    }
    publishing = false;
    const endings = await Promise.race([Promise.all(attacks), sleep(5000).then(() => undefined)]);
    const queueAfter = sendQueueOf(port, clientPorts);
    const rssAfter = rssOf(child.pid!);
    console.log(`polling attack: ${ATTACKERS} clients, ${sent} NOTIFYs of 100 KB, ${connections.length} connections; ` +
      `RSS ${(rssBefore / 1e6).toFixed(0)} MB before, peak ${(rssPeak / 1e6).toFixed(0)} MB, ${(rssAfter / 1e6).toFixed(0)} MB after; ` +
      `kernel send queues peak ${(queuePeak / 1e6).toFixed(1)} MB, ${(queueAfter / 1e6).toFixed(1)} MB after on the attackers' connections`);

    // Each attacker was cut (its next poll found no session) before it had been sent three
    // times the limit.
    expect(endings).toBeDefined();
    for (const ending of endings!) {
      expect(ending.status).toBe('HTTP/1.1 400');
      expect(ending.sent * PAYLOAD.length).toBeLessThan(3 * MAX_QUEUED);
    }
    const logs = slowConsumerLogs(server);
    expect(logs).toHaveLength(ATTACKERS);
    for (const log of logs) expect(log.queuedBytes as number).toBeGreaterThan(MAX_QUEUED);
    // What they were sent went with them: no send queue is left holding it.
    expect(queueAfter).toBe(0);
    // Each held at most about the limit, and the overshoot of a sweep, while it lasted.
    expect(queuePeak).toBeLessThan(ATTACKERS * (MAX_QUEUED + 3_000_000));
    expect(rssPeak - rssBefore).toBeLessThan(200_000_000);

    // The readers, over both transports, kept up and got everything, in order.
    for (const reader of readers) {
      const received: number[] = [];
      const deadline = Date.now() + 10_000;
      while (received.length < sent && Date.now() < deadline) {
        for (const [event] of await reader.drain('EVENT')) received.push((event as { message: { n: number } }).message.n);
      }
      expect(received).toEqual(Array.from({ length: sent }, (_, n) => n));
      expect(await Promise.race([reader.disconnected, sleep(100).then(() => 'connected')])).toBe('connected');
    }
    for (const connection of connections) connection.destroy();
  }, 60_000);

  it('resets a connection left holding an unread answer once --write-timeout passes', async () => {
    const server = await startCli(['--write-timeout', '1000']);
    const { port } = server;
    const path = await pollingMember(port, 'quiet');
    const publisher = await connect('v4', `http://127.0.0.1:${port}`, '/layout');
    publisher.emit('NOTIFY', json({ room: 'quiet', message: 'y'.repeat(900_000) }));
    await sleep(200);
    const { status, read, connection } = await pollWithoutReading(port, path);
    expect(status).toBe('HTTP/1.1 200');
    expect(sendQueueOf(port)).toBeGreaterThan(100_000);
    // Reset: the kernel let the unread answer go (a plain close would have kept delivering it),
    // and the client, reading again, gets what had reached its side, then the end.
    await expect.poll(() => sendQueueOf(port), { timeout: 10_000 }).toBe(0);
    const rest = await restOf(connection, 1000);
    expect(rest.closed).toBe(true);
    expect(read + rest.bytes).toBeLessThan(900_000);
    // The session itself was not the problem: below the limit, it lives on.
    expect(slowConsumerLogs(server)).toHaveLength(0);
    expect((await request(port, 'POST', path, '3')).text).toBe('ok');
  }, 60_000);

  it('resets a WebSocket that takes none of its pending data for --write-timeout, below the slow-consumer limit', async () => {
    const server = await startCli(['--write-timeout', '1000', '--max-queued-bytes', '100000000']);
    const url = `http://127.0.0.1:${server.port}`;
    const stalled = ioV4(`${url}/layout`, { forceNew: true, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve) => stalled.on('connect', () => stalled.emit('JOIN', json({ room: 'r', name: 's' }), () => resolve())));
    const gone = new Promise<string>((resolve) => stalled.on('disconnect', (reason) => resolve(reason)));
    (stalled.io.engine.transport as unknown as { ws: { _socket: net.Socket } }).ws._socket.pause();
    const publisher = await connect('v4', url, '/layout');
    // 6.4 MB: more than the kernel's buffers take (about 4 MB here), so Node holds the rest.
    for (let n = 0; n < 8; n++) publisher.emit('NOTIFY', json({ room: 'r', message: 'z'.repeat(800_000) }));
    await expect.poll(() => server.records().some((record) => record.msg === 'write timeout: resetting a connection whose peer takes none of its data'), { timeout: 15_000 }).toBe(true);
    expect(server.records().find((record) => (record.msg as string).startsWith('write timeout'))!.pendingBytes as number).toBeGreaterThan(0);
    (stalled.io.engine.transport as unknown as { ws: { _socket: net.Socket } }).ws._socket.resume();
    expect(['transport close', 'transport error']).toContain(await gone);
    expect(slowConsumerLogs(server)).toHaveLength(0);
    stalled.close();
  }, 60_000);
});
