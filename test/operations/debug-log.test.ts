import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UNKNOWN_EVENTS_LOGGED } from '../../src/guards';
import { createLogger } from '../../src/logger';
import { connect, json, sleep, startServer, QUIET_PERIOD } from '../helpers';

const by = (records: Record<string, unknown>[], msg: string) => records.filter((record) => record.msg === msg);

describe('debug log', () => {
  it('logs connect and disconnect with the protocol generation and transport', async () => {
    const server = await startServer();
    const v4 = await connect('v4', server.url, '/layout', { transport: 'websocket' });
    const v1 = await connect('v1', server.url, '/bus', { transport: 'polling' });
    const connected = by(server.records, 'connected');
    expect(connected).toContainEqual(expect.objectContaining({ level: 20, nsp: '/layout', socket: v4.publicId, eio: 4, transport: 'websocket' }));
    expect(connected).toContainEqual(expect.objectContaining({ level: 20, nsp: '/bus', socket: v1.publicId, eio: 3, transport: 'polling' }));
    const id = v4.publicId;
    v4.close();
    await v4.disconnected;
    await sleep(QUIET_PERIOD);
    expect(by(server.records, 'disconnected')).toContainEqual(expect.objectContaining({ nsp: '/layout', socket: id, eio: 4, reason: 'client namespace disconnect' }));
  });

  it('logs an unknown or misspelt event once per socket and name, the name as a field only', async () => {
    const server = await startServer();
    const a = await connect('v4', server.url, '/layout');
    const b = await connect('v2', server.url, '/layout');
    for (const client of [a, b]) {
      client.emit('join', json({ room: 'r', name: 'x' }));
      client.emit('join', json({ room: 'r', name: 'x' }));
      client.emit('Notify', json({ room: 'r', message: 1 }));
    }
    await a.request('JOIN', json({ room: 'r', name: 'a' }));
    await sleep(QUIET_PERIOD);
    const unknown = by(server.records, 'ignored an unknown event');
    expect(unknown.map((record) => [record.socket, record.event]).sort()).toEqual(
      [
        [a.publicId, 'join'],
        [a.publicId, 'Notify'],
        [b.publicId, 'join'],
        [b.publicId, 'Notify'],
      ].sort(),
    );
    expect(unknown.every((record) => record.level === 20 && record.nsp === '/layout')).toBe(true);
  });

  it('remembers a bounded number of unknown names per socket', async () => {
    const server = await startServer();
    const client = await connect('v4', server.url, '/bus');
    for (let i = 0; i < UNKNOWN_EVENTS_LOGGED * 3; i++) client.emit(`made-up-${i}`);
    client.emit('x'.repeat(10_000));
    await client.request('JOIN', json({ room: 'r', name: 'n' }));
    await sleep(QUIET_PERIOD);
    expect(by(server.records, 'ignored an unknown event')).toHaveLength(UNKNOWN_EVENTS_LOGGED);
    expect(by(server.records, 'too many unknown events: no longer logged for this socket')).toHaveLength(1);
  });

  it('never shows the adapter\'s internal room names, only the client\'s', async () => {
    const server = await startServer();
    const layout = await connect('v4', server.url, '/layout');
    await layout.request('JOIN', json({ room: 'living-room', name: 'tv' }));
    layout.emit('NOTIFY', json({ room: 'living-room', message: 1 }));
    layout.emit('CLIENTS', json({ room: 'living-room' }));
    await layout.request('LEAVE', json({ room: 'living-room' }));
    const peer = await connect('v4', server.url, '/lobby', { query: { lobbyId: 'lobby-1' } });
    const other = await connect('v2', server.url, '/lobby', { query: { lobbyId: 'lobby-1' } });
    peer.emit('RTCSIGNAL', { to: other.publicId, sdp: 'x' });
    const trigger = await connect('v1', server.url, '/trigger');
    await trigger.request('JOIN', 'timeline');
    trigger.emit('BROADCAST_EVENTS', 'timeline', {});
    for (const client of [layout, peer, other, trigger]) client.close();
    await sleep(QUIET_PERIOD);
    const text = JSON.stringify(server.records);
    expect(server.records.filter((record) => record.room !== undefined).map((record) => record.room)).toEqual(
      expect.arrayContaining(['living-room', 'lobby-1', 'timeline']),
    );
    expect(text).not.toMatch(/room:|peer:/);
  });

  it('writes from --log-level on: warn drops info and debug', () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const logger = createLogger({ format: 'json', level: 'warn', destination: out });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['w']);
  });
});
