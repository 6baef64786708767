import http from 'node:http';
import type net from 'node:net';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { connect, json, sleep, startCli } from '../helpers';

describe('graceful shutdown', () => {
  it('on SIGTERM during traffic: refuses new clients, lets an in-flight POST finish, disconnects clients so they reconnect, exits 0 in time', async () => {
    const server = await startCli(['--shutdown-grace', '3000']);
    const port = server.port;
    const url = `http://127.0.0.1:${port}`;
    const subscribers = await Promise.all([connect('v1', url, '/bus'), connect('v2', url, '/bus', { transport: 'polling' }), connect('v4', url, '/bus')]);
    for (const subscriber of subscribers) await subscriber.request('JOIN', json({ room: 'live', name: subscriber.version }));
    const publisher = await connect('v4', url, '/bus');
    const traffic = setInterval(() => publisher.emit('NOTIFY', json({ room: 'live', message: Date.now() })), 5);

    // A POST whose body is still arriving when the signal comes.
    const body = json({ last: 'words' });
    const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = http.request(`${url}/bus-message/live`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      });
      request.on('error', reject);
      request.write(body.slice(0, 5));
      setTimeout(() => request.end(body.slice(5)), 500);
    });
    await sleep(100);
    expect(await subscribers[2].nextValue('EVENT')).toMatchObject({ sender: 'unknown', room: 'live' });

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    const reasons = await Promise.all(subscribers.map((subscriber) => subscriber.disconnected));
    clearInterval(traffic);
    // Clients of every generation reconnect after a transport close or error; only an
    // "io server disconnect" would keep them away.
    for (const reason of reasons) expect(['transport close', 'transport error']).toContain(reason);
    const lateComer = await connect('v4', url, '/bus', { lazy: true });
    expect(await lateComer.refused).toBeTruthy();

    // Its subscribers may be gone by the time the body is complete: the count is not asserted.
    expect(await inFlight).toEqual({ status: 200, text: expect.stringMatching(/^OK: delivered to \d+ local sockets?$/) });
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    expect(at - signalled).toBeLessThan(3000);
    expect(server.records().map((record) => record.msg)).toEqual(expect.arrayContaining(['Shutting down: closing client connections', 'Closed']));
  });

  it('cuts what is still open when the grace period ends, and still exits 0', async () => {
    const server = await startCli(['--shutdown-grace', '500']);
    const port = server.port;
    const stalled = new Promise<string>((resolve) => {
      const request = http.request(`http://127.0.0.1:${port}/bus-message/r`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 100 } });
      request.on('error', (error) => resolve(error.message));
      request.on('response', (response) => resolve(`answered ${response.statusCode}`));
      request.write('{"never":');
    });
    await sleep(100);
    const signalled = Date.now();
    server.child.kill('SIGINT');
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    expect(at - signalled).toBeGreaterThanOrEqual(450);
    expect(at - signalled).toBeLessThan(2500);
    expect(await stalled).toMatch(/socket hang up|ECONNRESET/);
  });

  it('exits within --shutdown-grace when an upgraded WebSocket never answers the close handshake', async () => {
    const GRACE = 2000;
    const server = await startCli(['--shutdown-grace', String(GRACE)]);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    ws.on('error', () => {});
    const frames: string[] = [];
    const arrived = (match: (frame: string) => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => frames.some(match) && resolve();
        ws.on('message', check);
        check();
      });
    ws.on('message', (data) => frames.push(data.toString()));
    await arrived((frame) => frame.startsWith('0{'));
    ws.send('40/layout,');
    await arrived((frame) => frame.startsWith('40/layout,'));
    // It stops reading: the server's close frame is never read, so never answered, and ws would
    // wait 30 s for the answer.
    (ws as unknown as { _socket: net.Socket })._socket.pause();

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    const exit = await Promise.race([server.exited, sleep(GRACE + 5000).then(() => undefined)]);
    const took = (exit?.at ?? Date.now()) - signalled;
    console.log(`SIGTERM with --shutdown-grace ${GRACE} and a silent WebSocket: ${exit ? `exited after ${took} ms` : `still running after ${took} ms`}`);
    expect(exit?.code).toBe(0);
    // The silent client held the close until the deadline, and not a moment longer.
    expect(took).toBeGreaterThanOrEqual(GRACE - 100);
    expect(took).toBeLessThan(GRACE + 1000);
    ws.terminate();
  });
});
