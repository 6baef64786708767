import { describe, expect, it } from 'vitest';
import { connect, json, sleep, startServer } from '../helpers';
import { MAX_DEPTH } from '../../src/errors';
import { clientRoom } from '../../src/rooms';

describe('limits', () => {
  it('refuses rooms and names over --max-id-length with ERROR, on every namespace', async () => {
    const { url, service } = await startServer({ maxIdLength: 16 });
    const layout = await connect('v4', url, '/layout');
    expect(await layout.acked('JOIN', json({ room: 'r'.repeat(17), name: 'n' }))).toBe(false);
    expect(await layout.nextValue('ERROR')).toEqual({ event: 'JOIN', message: 'room is longer than 16 characters' });
    expect(await layout.acked('JOIN', json({ room: 'r', name: 'n'.repeat(17) }))).toBe(false);
    expect(await layout.nextValue('ERROR')).toEqual({ event: 'JOIN', message: 'name is longer than 16 characters' });
    expect(await layout.request('JOIN', json({ room: 'r'.repeat(16), name: 'n'.repeat(16) }))).toEqual([]);

    const trigger = await connect('v4', url, '/trigger');
    trigger.emit('JOIN', 't'.repeat(17));
    expect(await trigger.nextValue('ERROR')).toMatchObject({ event: 'JOIN' });
    const lobby = await connect('v4', url, '/lobby', { query: { lobbyId: 'l'.repeat(17) }, lazy: true });
    expect(await lobby.refused).toMatch(/lobbyId/);
    expect([...service.io.of('/trigger').adapter.rooms.keys()].some((key) => clientRoom(key)?.startsWith('ttt'))).toBe(false);
  });

  it('answers every refusal but warns once per socket and verb', async () => {
    const { url, records } = await startServer({ maxIdLength: 8 });
    const client = await connect('v4', url, '/layout');
    for (let i = 0; i < 50; i++) client.emit('JOIN', json({ room: `too-long-${i}`, name: 'n' }));
    for (let i = 0; i < 50; i++) expect(await client.nextValue('ERROR')).toMatchObject({ event: 'JOIN' });
    expect(records.filter((r) => r.level === 40 && r.socket === client.publicId)).toHaveLength(1);
    expect(records.filter((r) => r.level === 20 && r.socket === client.publicId && String(r.msg).startsWith('refused JOIN again'))).toHaveLength(49);
  });

  it('relays messages nested up to MAX_DEPTH levels and refuses deeper ones, over Socket.IO and HTTP', async () => {
    const { url } = await startServer();
    const nested = (levels: number): unknown => (levels === 0 ? 'leaf' : [nested(levels - 1)]);
    const subscriber = await connect('v4', url, '/bus');
    await subscriber.request('JOIN', json({ room: 'deep', name: 's' }));
    const publisher = await connect('v4', url, '/bus');
    // The payload object is one level; its message starts the next.
    publisher.emit('NOTIFY', { room: 'deep', message: nested(MAX_DEPTH - 1) });
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'deep', message: nested(MAX_DEPTH - 1) });
    publisher.emit('NOTIFY', json({ room: 'deep', message: nested(MAX_DEPTH) }));
    expect(await publisher.nextValue('ERROR')).toEqual({ event: 'NOTIFY', message: `payload is nested deeper than ${MAX_DEPTH} levels` });
    const post = (body: unknown) => fetch(`${url}/bus-message/deep`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json(body) });
    expect((await post(nested(MAX_DEPTH))).status).toBe(200);
    const refused = await post(nested(MAX_DEPTH + 1));
    expect(refused.status).toBe(400);
    expect(await refused.text()).toBe(`Body is nested deeper than ${MAX_DEPTH} levels`);
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'POST', room: 'deep', message: nested(MAX_DEPTH) });
    expect(await subscriber.drain('EVENT')).toEqual([]);
  });

  it('caps the rooms one socket may join with --max-rooms-per-socket', async () => {
    const { url, service } = await startServer({ maxRoomsPerSocket: 3 });
    const client = await connect('v4', url, '/layout');
    for (const room of ['a', 'b', 'c']) await client.request('JOIN', json({ room, name: 'n' }));
    expect(await client.request('JOIN', json({ room: 'a', name: 'n' }))).toEqual([]);
    expect(await client.acked('JOIN', json({ room: 'd', name: 'n' }))).toBe(false);
    expect(await client.nextValue('ERROR')).toEqual({ event: 'JOIN', message: 'already in 3 rooms: LEAVE one first' });
    await client.request('LEAVE', json({ room: 'a' }));
    expect(await client.request('JOIN', json({ room: 'd', name: 'n' }))).toEqual([]);
    const [socket] = service.io.of('/layout').sockets.values();
    expect([...socket.rooms].flatMap((key) => clientRoom(key) ?? []).sort()).toEqual(['b', 'c', 'd']);
  });

  it('refuses new clients beyond --max-connections, and admits again once one leaves', async () => {
    const { url, records } = await startServer({ maxConnections: 2 });
    const first = await connect('v4', url, '/layout');
    await connect('v1', url, '/layout');
    const third = await connect('v4', url, '/layout', { lazy: true });
    expect(await third.refused).toBeTruthy();
    const fourth = await connect('v2', url, '/layout', { lazy: true });
    expect(await fourth.refused).toBeTruthy();
    expect(records.filter((r) => r.msg === 'connection limit reached: refusing new clients')).toHaveLength(1);
    first.close();
    await sleep(200);
    await connect('v4', url, '/layout');
  });

  it('drops events over --event-rate with one ERROR, and disconnects a socket that keeps flooding', async () => {
    const { url, records } = await startServer({ eventRate: 20, eventBurst: 10 });
    const listener = await connect('v4', url, '/layout');
    await listener.request('JOIN', json({ room: 'r', name: 'tv' }));
    const flooder = await connect('v4', url, '/layout');
    for (let i = 0; i < 30; i++) flooder.emit('NOTIFY', json({ room: 'r', message: i }));
    const delivered = await listener.drain('EVENT');
    // The bucket's 10, less the token the CONNECT took, plus what refilled at 20/s while the 30 arrived.
    expect(delivered.length).toBeGreaterThanOrEqual(9);
    expect(delivered.length).toBeLessThan(20);
    expect(delivered.map(([event]) => (event as { message: number }).message)).toEqual(delivered.map((_, i) => i));
    expect(await flooder.nextValue('ERROR')).toEqual({ event: 'RATE_LIMIT', message: 'over 20 events/s: events are being dropped' });
    expect(await flooder.drain('ERROR')).toEqual([]);

    for (let i = 0; i < 200; i++) flooder.emit('NOTIFY', json({ room: 'r', message: 'flood' }));
    expect(await flooder.disconnected).toBe('io server disconnect');
    expect(records.filter((r) => r.msg === 'rate limit: dropping events')).toHaveLength(1);
    expect(records.filter((r) => r.msg === 'rate limit: disconnecting a connection that kept flooding')).toHaveLength(1);
    const polite = await connect('v4', url, '/layout');
    polite.emit('NOTIFY', json({ room: 'r', message: 'still here' }));
    await expect.poll(async () => (await listener.drain('EVENT')).flat()).toContainEqual({ sender: 'unknown', room: 'r', message: 'still here' });
  });
});
