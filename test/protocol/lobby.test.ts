import { beforeEach, describe, expect, it } from 'vitest';
import {
  connect,
  EVENT_TIMEOUT,
  startServer,
  TRANSPORTS,
  VERSIONS,
  type ClientVersion,
  type TestClient,
  type TestServer,
  type Transport,
} from '../helpers';

let server: TestServer;
beforeEach(async () => {
  server = await startServer();
});

/** A lobby member: its client and the socket id the server announced for it. */
interface Member {
  client: TestClient;
  id: string;
  peers: unknown;
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${EVENT_TIMEOUT} ms`)), EVENT_TIMEOUT)),
  ]);
}

/**
 * Connects to `/lobby?lobbyId=LOBBY`. The newcomer's first JOINED carries its own socket id (the
 * only way a 1.x client learns it: its `socket.id` is the Engine.IO id), then PEERS follows.
 */
async function enter(version: ClientVersion, lobby: string, transport: Transport = 'websocket'): Promise<Member> {
  const client = await connect(version, server.url, '/lobby', { transport, query: { lobbyId: lobby } });
  const id = await client.nextValue('JOINED');
  expect(typeof id).toBe('string');
  expect(id).toBe(client.publicId);
  expect(id).not.toContain(client.id.replace(/^\/lobby#/, ''));
  const peers = await client.nextValue('PEERS');
  return { client, id: id as string, peers };
}

/** Nothing of `events` reaches any of `clients` (one quiet period in all). */
async function expectNothing(events: string[], clients: Record<string, TestClient>): Promise<void> {
  const drained = await Promise.all(
    Object.entries(clients).flatMap(([label, client]) =>
      events.map(async (event) => ({ label, event, got: await client.drain(event) })),
    ),
  );
  expect(drained.filter(({ got }) => got.length > 0)).toEqual([]);
}

const ALL_EVENTS = ['JOINED', 'PEERS', 'LEFT', 'MESSAGE', 'RTCSIGNAL', 'ERROR'];

/** A refusal that an old client may not understand as one: a single non-empty string. */
function expectErrorAck(reply: unknown[]): void {
  expect(reply).toHaveLength(1);
  expect(typeof reply[0]).toBe('string');
  expect((reply[0] as string).length).toBeGreaterThan(0);
}

describe.each(VERSIONS)('/lobby with %s clients', (version) => {
  describe.each(TRANSPORTS)('connecting over %s', (transport) => {
    it('refuses a connection without lobbyId, saying so', async () => {
      const missing = await connect(version, server.url, '/lobby', { transport, lazy: true });
      expect(await within(missing.refused, 'no refusal without lobbyId')).toMatch(/lobbyId/);
      const empty = await connect(version, server.url, '/lobby', { transport, lazy: true, query: { lobbyId: '' } });
      expect(await within(empty.refused, 'no refusal with an empty lobbyId')).toMatch(/lobbyId/);
    });

    it('announces JOINED to the whole lobby, newcomer included, then sends the newcomer its PEERS', async () => {
      const stranger = await enter(version, 'elsewhere', transport);
      const first = await enter(version, 'lobby-1', transport);
      expect(first.peers).toEqual([]);

      const second = await enter(version, 'lobby-1', transport);
      expect(second.peers).toEqual([first.id]);
      expect(await first.client.nextValue('JOINED')).toBe(second.id);

      const third = await enter(version, 'lobby-1', transport);
      expect(third.peers).toEqual(expect.arrayContaining([first.id, second.id]));
      expect(third.peers).toHaveLength(2);
      expect(await first.client.nextValue('JOINED')).toBe(third.id);
      expect(await second.client.nextValue('JOINED')).toBe(third.id);

      expect(new Set([stranger.id, first.id, second.id, third.id]).size).toBe(4);
      expect(stranger.peers).toEqual([]);
      await expectNothing(ALL_EVENTS, { stranger: stranger.client, first: first.client, second: second.client, third: third.client });
    });
  });

  it('refuses JOIN while in a lobby through the ack, and nothing changes', async () => {
    const mover = await enter(version, 'lobby-1');
    const mate = await enter(version, 'lobby-1');
    await mover.client.nextValue('JOINED');
    const other = await enter(version, 'lobby-2');

    expectErrorAck(await mover.client.request('JOIN', 'lobby-2'));
    expectErrorAck(await mover.client.request('JOIN', 'lobby-1'));
    await expectNothing(['JOINED', 'LEFT', 'PEERS', 'ERROR'], { mover: mover.client, mate: mate.client, other: other.client });

    // Still in lobby-1 only.
    mover.client.emit('BROADCAST', { message: 'still here' });
    expect(await mate.client.nextValue('MESSAGE')).toEqual({ from: mover.id, message: 'still here' });
    expect(await mover.client.nextValue('MESSAGE')).toEqual({ from: mover.id, message: 'still here' });
    await expectNothing(['MESSAGE'], { other: other.client });
  });

  it('refuses LEAVE of a lobby it is not in through the ack, and stays', async () => {
    const member = await enter(version, 'lobby-1');
    const mate = await enter(version, 'lobby-1');
    await member.client.nextValue('JOINED');

    expectErrorAck(await member.client.request('LEAVE', 'lobby-2'));
    await expectNothing(['LEFT', 'ERROR'], { member: member.client, mate: mate.client });

    member.client.emit('BROADCAST', { message: 'not gone' });
    expect(await mate.client.nextValue('MESSAGE')).toEqual({ from: member.id, message: 'not gone' });
  });

  it('LEAVE of its lobby acks with no arguments and tells the rest; JOIN then enters another lobby', async () => {
    const mover = await enter(version, 'lobby-1');
    const mate = await enter(version, 'lobby-1');
    await mover.client.nextValue('JOINED');
    const other = await enter(version, 'lobby-2');

    expect(await mover.client.request('LEAVE', 'lobby-1')).toEqual([]);
    expect(await mate.client.nextValue('LEFT')).toBe(mover.id);
    await expectNothing(['LEFT'], { mover: mover.client, other: other.client });

    // In no lobby now: BROADCAST is refused and reaches nobody.
    mover.client.emit('BROADCAST', { message: 'into the void' });
    expect(await mover.client.nextValue('ERROR')).toMatchObject({ event: 'BROADCAST', message: expect.any(String) });
    await expectNothing(['MESSAGE'], { mover: mover.client, mate: mate.client, other: other.client });

    expect(await mover.client.request('JOIN', 'lobby-2')).toEqual([]);
    expect(await other.client.nextValue('JOINED')).toBe(mover.id);
    await expectNothing(['JOINED'], { mate: mate.client });
    await mover.client.drain('JOINED'); // its own announcement, if any

    mover.client.emit('BROADCAST', { message: 'hello lobby-2' });
    expect(await other.client.nextValue('MESSAGE')).toEqual({ from: mover.id, message: 'hello lobby-2' });
    expect(await mover.client.nextValue('MESSAGE')).toEqual({ from: mover.id, message: 'hello lobby-2' });
    await expectNothing(['MESSAGE'], { mate: mate.client });
  });

  it('sends LEFT to the remaining members when a member disconnects', async () => {
    const leaving = await enter(version, 'lobby-1');
    const first = await enter(version, 'lobby-1');
    await leaving.client.nextValue('JOINED');
    const second = await enter(version, 'lobby-1');
    await leaving.client.nextValue('JOINED');
    await first.client.nextValue('JOINED');
    const stranger = await enter(version, 'lobby-2');

    leaving.client.close();
    expect(await first.client.nextValue('LEFT')).toBe(leaving.id);
    expect(await second.client.nextValue('LEFT')).toBe(leaving.id);
    await expectNothing(['LEFT'], { first: first.client, second: second.client, stranger: stranger.client });
  });

  it('BROADCAST reaches every member of the lobby, sender included, and nobody else', async () => {
    const sender = await enter(version, 'lobby-1');
    const mate = await enter(version, 'lobby-1');
    await sender.client.nextValue('JOINED');
    const other = await enter(version, 'lobby-2');

    const messages: unknown[] = [{ kind: 'chat', text: 'hi', list: [1, 'two', null], nested: { ok: true } }, 'plain text', 7];
    for (const message of messages) sender.client.emit('BROADCAST', { message });
    for (const member of [sender, mate]) {
      for (const message of messages) expect(await member.client.nextValue('MESSAGE')).toEqual({ from: sender.id, message });
    }
    await expectNothing(['MESSAGE', 'ERROR'], { sender: sender.client, mate: mate.client, other: other.client });
  });

  it('RTCSIGNAL reaches the addressed peer alone, with from set to the sender', async () => {
    const caller = await enter(version, 'lobby-1');
    const callee = await enter(version, 'lobby-1');
    const bystander = await enter(version, 'lobby-1');
    await caller.client.drain('JOINED');
    await callee.client.drain('JOINED');

    const offer = { to: callee.id, type: 'offer', sdp: 'v=0\r\no=- 46117317 2 IN IP4 127.0.0.1\r\n', from: 'spoofed' };
    caller.client.emit('RTCSIGNAL', offer);
    expect(await callee.client.nextValue('RTCSIGNAL')).toEqual({ ...offer, from: caller.id });

    const answer = { to: caller.id, type: 'answer', candidate: { sdpMid: '0', sdpMLineIndex: 0 } };
    callee.client.emit('RTCSIGNAL', answer);
    expect(await caller.client.nextValue('RTCSIGNAL')).toEqual({ ...answer, from: callee.id });

    await expectNothing(['RTCSIGNAL', 'ERROR'], { caller: caller.client, callee: callee.client, bystander: bystander.client });
  });

  it('RTCSIGNAL to a socket in another lobby (or to nobody) gets ERROR and reaches nobody', async () => {
    const caller = await enter(version, 'lobby-1');
    const mate = await enter(version, 'lobby-1');
    const stranger = await enter(version, 'lobby-2');

    caller.client.emit('RTCSIGNAL', { to: stranger.id, type: 'offer', sdp: 'x' });
    expect(await caller.client.nextValue('ERROR')).toMatchObject({ event: 'RTCSIGNAL', message: expect.any(String) });
    caller.client.emit('RTCSIGNAL', { to: 'no-such-socket', type: 'offer', sdp: 'x' });
    expect(await caller.client.nextValue('ERROR')).toMatchObject({ event: 'RTCSIGNAL', message: expect.any(String) });

    await expectNothing(['RTCSIGNAL'], { caller: caller.client, mate: mate.client, stranger: stranger.client });
  });
});

describe('/lobby across client generations', () => {
  it('lets v1, v2 and v4 peers see each other and signal each other', async () => {
    const old = await enter('v1', 'mixed');
    const mid = await enter('v2', 'mixed', 'polling');
    const recent = await enter('v4', 'mixed');
    expect(recent.peers).toEqual(expect.arrayContaining([old.id, mid.id]));
    expect(await old.client.nextValue('JOINED')).toBe(mid.id);
    expect(await old.client.nextValue('JOINED')).toBe(recent.id);
    expect(await mid.client.nextValue('JOINED')).toBe(recent.id);

    recent.client.emit('RTCSIGNAL', { to: old.id, type: 'offer' });
    expect(await old.client.nextValue('RTCSIGNAL')).toEqual({ to: old.id, type: 'offer', from: recent.id });
    old.client.emit('RTCSIGNAL', { to: mid.id, type: 'answer' });
    expect(await mid.client.nextValue('RTCSIGNAL')).toEqual({ to: mid.id, type: 'answer', from: old.id });
    await expectNothing(['RTCSIGNAL', 'ERROR'], { old: old.client, mid: mid.client, recent: recent.client });
  });
});
