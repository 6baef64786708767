import { beforeEach, describe, expect, it } from 'vitest';
import { connect, startServer, WIRES, type TestClient, type TestServer } from '../helpers';

/** Each verb a client sends and the event the room receives. */
const FORWARDS = [
  ['BROADCAST_EVENTS', 'EVENTS'],
  ['BROADCAST_UPDATES', 'UPDATES'],
  ['BROADCAST_STATUS', 'STATUS'],
] as const;
const RECEIVED = FORWARDS.map(([, outgoing]) => outgoing);

/** DATA must arrive unchanged whatever its type. */
const PAYLOADS: unknown[] = [
  { timeline: 'main', events: [{ id: 'e1', at: 12.5, params: { label: 'Goal!', tags: ['a', 'b'] } }], none: null, flag: false },
  'a plain string, with "quotes" and ünïcödé ✓',
  42.5,
  0,
];

let server: TestServer;
beforeEach(async () => {
  server = await startServer();
});

/** Nothing more of any /trigger event reaches any of `clients` (one quiet period in all). */
async function expectNothingMore(clients: Record<string, TestClient>): Promise<void> {
  const drained = await Promise.all(
    Object.entries(clients).flatMap(([label, client]) =>
      [...RECEIVED, 'ERROR'].map(async (event) => ({ label, event, got: await client.drain(event) })),
    ),
  );
  expect(drained.filter(({ got }) => got.length > 0)).toEqual([]);
}

describe.each(WIRES)('/trigger with a $version client over $transport', ({ version, transport }) => {
  const open = () => connect(version, server.url, '/trigger', { transport });

  it('acks JOIN with no arguments and forwards to the room once joined', async () => {
    const member = await open();
    const publisher = await open();
    expect(await member.request('JOIN', 'room-ack')).toEqual([]);
    publisher.emit('BROADCAST_UPDATES', 'room-ack', { after: 'join' });
    expect(await member.next('UPDATES')).toEqual([{ after: 'join' }]);
    expect(member.transport).toBe(transport);
  });

  it('takes JOIN without an ack (as the Python timeline service sends it)', async () => {
    const member = await open();
    const publisher = await open();
    member.emit('JOIN', 'room-no-ack');
    // Requests from one socket are handled in order: this ack means the JOIN before it was handled.
    expect(await member.request('LEAVE', 'some-other-room')).toEqual([]);
    publisher.emit('BROADCAST_STATUS', 'room-no-ack', { state: 'running' });
    expect(await member.next('STATUS')).toEqual([{ state: 'running' }]);
    await expectNothingMore({ member, publisher });
  });

  it.each(FORWARDS)('%s(room, data) reaches every other member as %s with data unchanged', async (incoming, outgoing) => {
    const [first, second, stranger, publisher] = await Promise.all([open(), open(), open(), open()]);
    expect(await first.request('JOIN', 'room-1')).toEqual([]);
    expect(await second.request('JOIN', 'room-1')).toEqual([]);
    expect(await stranger.request('JOIN', 'room-2')).toEqual([]);

    // From a publisher that never joined the room.
    for (const data of PAYLOADS) publisher.emit(incoming, 'room-1', data);
    for (const member of [first, second]) {
      for (const data of PAYLOADS) expect(await member.next(outgoing)).toEqual([data]);
    }
    // From a member: the others get it, the sender does not.
    first.emit(incoming, 'room-1', { from: 'first' });
    expect(await second.next(outgoing)).toEqual([{ from: 'first' }]);

    await expectNothingMore({ sender: first, publisher, stranger, 'other member (a second copy)': second });
  });

  it('LEAVE with an ack leaves that room, and only that room', async () => {
    const leaver = await open();
    const stayer = await open();
    const publisher = await open();
    for (const room of ['room-a', 'room-b']) expect(await leaver.request('JOIN', room)).toEqual([]);
    expect(await stayer.request('JOIN', 'room-a')).toEqual([]);

    expect(await leaver.request('LEAVE', 'room-a')).toEqual([]);
    publisher.emit('BROADCAST_EVENTS', 'room-a', { to: 'a' });
    publisher.emit('BROADCAST_EVENTS', 'room-b', { to: 'b' });
    expect(await stayer.next('EVENTS')).toEqual([{ to: 'a' }]);
    expect(await leaver.next('EVENTS')).toEqual([{ to: 'b' }]);
    await expectNothingMore({ leaver, stayer, publisher });
  });

  it('LEAVE without an ack leaves too', async () => {
    const leaver = await open();
    const stayer = await open();
    expect(await leaver.request('JOIN', 'room-c')).toEqual([]);
    expect(await stayer.request('JOIN', 'room-c')).toEqual([]);
    leaver.emit('LEAVE', 'room-c');
    expect(await leaver.request('JOIN', 'unrelated')).toEqual([]); // orders the LEAVE before what follows

    stayer.emit('BROADCAST_UPDATES', 'room-c', 'after leave');
    leaver.emit('BROADCAST_UPDATES', 'room-c', 'from the one who left');
    expect(await stayer.next('UPDATES')).toEqual(['from the one who left']);
    await expectNothingMore({ leaver, stayer });
  });
});
