/**
 * The bad-input matrix (README, "The protocol" > "Refused requests: `ERROR`"): every verb of every
 * namespace, fed every kind of unparsable or wrongly shaped payload, must be refused the same way:
 *  - no ack (old clients read any ack as success);
 *  - nothing joined, left, broadcast or replied to anyone;
 *  - a warning logged that names the verb;
 *  - `["ERROR", {event: VERB, message: REASON}]` to the offending socket alone;
 *  - the connection stays up: a valid request afterwards works.
 *
 * One table ({@link NAMESPACES}) says, per namespace, how a scene is set up and which events must
 * stay quiet, and per verb, its bad cases and the valid request that must work after a refusal.
 * One pair of test bodies runs it. Each case is its own test (fast, no quiet period: the valid
 * follow-up request doubles as an ordering barrier, since one socket's packets are handled and
 * answered in order). Per verb, one batched test then fires every case at once and waits a single
 * quiet period to prove that no refused request was acked and that no other client received
 * anything, not even an ERROR.
 *
 * One server per namespace, fresh clients and a fresh room per test, so the tests run
 * concurrently. (startServer()/connect() from the helpers close what they open after *each*
 * test, which a shared server and concurrent tests cannot use; the legacy block uses them.)
 */
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic, type TestContext } from 'vitest';
import { createServer, type WebsocketService } from '../../src';
import { connect, connectForTest, json, memoryLogger, registerService, startServer, type TestClient } from '../helpers';
import { clientRoom } from '../../src/rooms';

// ---------------------------------------------------------------------------------------------
// Plumbing

interface SharedServer {
  service: WebsocketService;
  url: string;
  records: Record<string, unknown>[];
}

/** One server for the enclosing describe block, closed after it. */
function sharedServer(): SharedServer {
  const shared = {} as SharedServer;
  beforeAll(async () => {
    const { logger, records } = memoryLogger();
    const service = createServer({ port: 0, host: '127.0.0.1' }, { logger });
    registerService(service);
    const { port } = await service.listen();
    Object.assign(shared, { service, records, url: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await shared.service?.close();
  });
  return shared;
}

/** A socket.io-client 4 client of the shared server, closed when the test finishes. */
const open = (ctx: TestContext, server: SharedServer, nsp: string, query?: Record<string, string>): Promise<TestClient> =>
  connectForTest(ctx, server.url, nsp, query);

let sequence = 0;
/** A room/lobby id no other test uses. */
const unique = (prefix: string) => `${prefix}-${++sequence}-${Math.random().toString(36).slice(2, 8)}`;

/** The rooms a socket is in on the server, its own room left out. */
function roomsOf(server: SharedServer, nsp: string, id: string): string[] {
  const socket = server.service.io.of(nsp).sockets.get(id);
  if (!socket) throw new Error(`no socket ${id} on ${nsp}: the connection did not stay up`);
  return [...socket.rooms].flatMap((key) => clientRoom(key) ?? []).sort();
}

/** Exactly one warning was logged for this socket, and it names the verb. */
function expectOneWarning(expect: ExpectStatic, server: SharedServer, publicId: string, verb: string): void {
  const warnings = server.records
    .filter((record) => record.socket === publicId && typeof record.level === 'number' && record.level >= 40)
    .map((record) => ({ level: record.level, event: record.event, namesVerb: String(record.msg).includes(verb) }));
  expect(warnings).toEqual([{ level: 40, event: verb, namesVerb: true }]);
}

/** What a refusal sends the offender. */
const errorReply = (verb: string) => ({ event: verb, message: expect.stringMatching(/\S/) });

/** What every test fires at the server: the arguments before the ack callback. */
interface Target {
  room: string;
  /** A socket id that is a legitimate RTCSIGNAL target (the observer in the lobby). */
  peer: string;
}
interface BadCase {
  label: string;
  args: (target: Target) => unknown[];
}

/** A bad id (room, name, lobby, `to`), as a function of the real one where that makes it nastier. */
const BAD_IDS: { label: string; value: (id: string) => unknown; missing?: true }[] = [
  { label: 'missing', value: () => undefined, missing: true },
  { label: 'an empty string', value: () => '' },
  { label: 'true', value: () => true },
  { label: 'an object', value: () => ({}) },
  { label: 'an empty array', value: () => [] },
  { label: 'null', value: () => null },
  // socket.join([id]) / socket.to([id]) would act on the real room if this slipped through.
  { label: 'an array holding the real id', value: (id) => [id] },
];

// ---------------------------------------------------------------------------------------------
// The cases of each namespace

type RoomVerb = 'JOIN' | 'LEAVE' | 'NOTIFY' | 'CLIENTS';

/** A valid request of each verb; a refused JOIN carries the name "ghost", which must never show. */
function validRequest(verb: RoomVerb, room: string): Record<string, unknown> {
  switch (verb) {
    case 'JOIN':
      return { room, name: 'ghost' };
    case 'LEAVE':
      return { room };
    case 'NOTIFY':
      return { room, message: { leaked: true } };
    case 'CLIENTS':
      return { room };
  }
}

/** Payloads that are wrong as a whole, whatever the verb. */
function wholePayloadCases(verb: RoomVerb): BadCase[] {
  return [
    { label: 'an invalid JSON string', args: () => ['{"room": "r", '] },
    { label: 'an empty string', args: () => [''] },
    { label: 'a JSON string of a string', args: () => ['"x"'] },
    { label: 'a JSON string of an array', args: () => ['[1]'] },
    { label: 'a JSON string of an array holding a valid request', args: ({ room }) => [json([validRequest(verb, room)])] },
    { label: 'a JSON string of null', args: () => ['null'] },
    { label: 'a number', args: () => [42] },
    { label: 'true', args: () => [true] },
    { label: 'null', args: () => [null] },
    { label: 'an array holding a valid request', args: ({ room }) => [[validRequest(verb, room)]] },
    { label: 'no payload at all', args: () => [] },
  ];
}

/** One field of an otherwise valid request made bad, in the object and the JSON-string form. */
function fieldCases(verb: RoomVerb, key: string): BadCase[] {
  return BAD_IDS.flatMap(({ label, value, missing }) =>
    (['object', 'JSON string'] as const).map((form) => ({
      label: `${key} ${label} (${form})`,
      args: ({ room }: Target) => {
        const request = validRequest(verb, room);
        const real = String(request[key]);
        if (missing) delete request[key];
        else request[key] = value(real);
        return [form === 'object' ? request : json(request)];
      },
    })),
  );
}

function roomCases(verb: RoomVerb): BadCase[] {
  const cases = [...wholePayloadCases(verb), ...fieldCases(verb, 'room')];
  if (verb === 'JOIN') cases.push(...fieldCases(verb, 'name'));
  if (verb === 'NOTIFY') {
    cases.push(
      { label: 'message missing (object)', args: ({ room }) => [{ room }] },
      { label: 'message missing (JSON string)', args: ({ room }) => [json({ room })] },
    );
  }
  return cases;
}

const TRIGGER_DATA = { leaked: true };

function triggerCases(verb: string): BadCase[] {
  const extra = verb === 'JOIN' || verb === 'LEAVE' ? [] : [TRIGGER_DATA];
  return [
    ...BAD_IDS.filter(({ missing }) => !missing).map(({ label, value }) => ({
      label: `room ${label}`,
      args: ({ room }: Target) => [value(room), ...extra],
    })),
    // With an ack the callback itself is the first argument; without, nothing at all arrives.
    { label: 'no arguments at all', args: () => [] },
  ];
}

/** Lobby ids (JOIN, LEAVE) that are no ids. */
function lobbyIdCases(): BadCase[] {
  return [
    ...BAD_IDS.filter(({ missing }) => !missing).map(({ label, value }) => ({
      label: `lobby id ${label}`,
      args: ({ room }: Target) => [value(room)],
    })),
    { label: 'no lobby id at all', args: () => [] },
  ];
}

/** BROADCAST and RTCSIGNAL payloads that are no objects. */
const NOT_OBJECTS: BadCase[] = [
  { label: 'a number', args: () => [42] },
  { label: 'a string', args: () => ['x'] },
  { label: 'a JSON string of a valid payload', args: ({ peer }) => [json({ to: peer, message: 'leaked' })] },
  { label: 'null', args: () => [null] },
  { label: 'true', args: () => [true] },
  { label: 'an empty array', args: () => [[]] },
  { label: 'an array holding a valid payload', args: ({ peer }) => [[{ to: peer, message: 'leaked' }]] },
  { label: 'no payload at all', args: () => [] },
];

/** RTCSIGNAL payloads whose `to` is no peer id. */
function peerCases(): BadCase[] {
  return BAD_IDS.map(({ label, value, missing }) => ({
    label: `to ${label}`,
    args: ({ peer }: Target) => [missing ? { sdp: 'leaked' } : { to: value(peer), sdp: 'leaked' }],
  }));
}

// ---------------------------------------------------------------------------------------------
// The table: per namespace, how a scene is set up and what must stay quiet; per verb, its bad
// cases and the valid request that must still work after a refusal.

/** A fresh room (or lobby) with an observer in it, and the actors who fire the bad requests. */
interface Scene extends Target {
  observer: TestClient;
  actors: TestClient[];
  /** The rooms `client` is in on the server, its own room left out. */
  rooms: (client: TestClient) => string[];
}

interface VerbRow {
  verb: string;
  cases: BadCase[];
  /**
   * After a refusal: a valid request of the same kind from `actor` works, and whatever it causes
   * is the first thing of its kind seen (so the refused request caused nothing).
   */
  valid: (expect: ExpectStatic, scene: Scene, actor: TestClient) => Promise<void>;
}

interface NamespaceRow {
  nsp: string;
  /** The observer, then `actors` actors, in a fresh room, set up for `verb` (see {@link inRoom}). */
  setUp: (ctx: TestContext, server: SharedServer, verb: string, actors?: number) => Promise<Scene>;
  /** Whether the actors are in the scene's room when they fire `verb`; a refusal must not change it. */
  inRoom: (verb: string) => boolean;
  /** What refused requests must not send, to the observer and to the actors (besides their ERROR). */
  quiet: { observer: string[]; actors: string[] };
  /** Further proof, after the batched refusals, that membership is what it was. */
  roster?: (expect: ExpectStatic, scene: Scene, verb: string) => Promise<void>;
  verbs: VerbRow[];
}

/** `/layout` and `/bus`: rooms with member names, JSON-string or object payloads. */
function roomNamespace(nsp: '/layout' | '/bus'): NamespaceRow {
  const row = (verb: RoomVerb, valid: VerbRow['valid']): VerbRow => ({ verb, cases: roomCases(verb), valid });
  return {
    nsp,
    async setUp(ctx, server, verb, actors = 1) {
      const room = unique('room');
      const observer = await open(ctx, server, nsp);
      expect(await observer.request('JOIN', json({ room, name: 'observer' }))).toEqual([]);
      const all = await Promise.all(Array.from({ length: actors }, () => open(ctx, server, nsp)));
      if (verb === 'LEAVE') {
        await Promise.all(all.map((actor, i) => actor.request('JOIN', json({ room, name: `actor${i}` }))));
      }
      return { room, peer: '', observer, actors: all, rooms: (client) => roomsOf(server, nsp, client.id) };
    },
    inRoom: (verb) => verb === 'LEAVE',
    quiet: { observer: ['EVENT', 'ERROR', 'CLIENTS'], actors: ['CLIENTS'] },
    async roster(expect, { room, observer, actors }, verb) {
      // Nobody joined (not even a "ghost"), nobody left.
      observer.emit('CLIENTS', json({ room }));
      const listed = (await observer.nextValue('CLIENTS')) as { clients: string[] };
      const expected = verb === 'LEAVE' ? ['observer', ...actors.map((_, i) => `actor${i}`)] : ['observer'];
      expect([...listed.clients].sort()).toEqual(expected.sort());
    },
    verbs: [
      row('JOIN', async (expect, { room, observer }, actor) => {
        observer.emit('CLIENTS', json({ room }));
        expect(await observer.nextValue('CLIENTS')).toEqual({ room, clients: ['observer'] });
        // The refused JOIN did not set the name: the actor is still "unknown".
        actor.emit('NOTIFY', json({ room, message: 'probe' }));
        expect(await observer.nextValue('EVENT')).toEqual({ sender: 'unknown', room, message: 'probe' });
        expect(await actor.request('JOIN', json({ room, name: 'actor' }))).toEqual([]);
        observer.emit('CLIENTS', { room });
        const listed = (await observer.nextValue('CLIENTS')) as { clients: string[] };
        expect([...listed.clients].sort()).toEqual(['actor', 'observer']);
      }),
      row('LEAVE', async (expect, { room, rooms }, actor) => {
        expect(await actor.request('LEAVE', json({ room }))).toEqual([]);
        expect(rooms(actor)).toEqual([]);
      }),
      row('NOTIFY', async (expect, { room, observer }, actor) => {
        actor.emit('NOTIFY', json({ room, message: 'valid' }));
        expect(await observer.nextValue('EVENT')).toEqual({ sender: 'unknown', room, message: 'valid' });
      }),
      row('CLIENTS', async (expect, { room }, actor) => {
        actor.emit('CLIENTS', json({ room }));
        // The first CLIENTS reply is to the valid request: the refused one got none.
        expect(await actor.nextValue('CLIENTS')).toEqual({ room, clients: ['observer'] });
      }),
    ],
  };
}

const TRIGGER_FORWARDS = { BROADCAST_EVENTS: 'EVENTS', BROADCAST_UPDATES: 'UPDATES', BROADCAST_STATUS: 'STATUS' } as const;

/** `/trigger`: plain-string room ids, broadcasts forwarded to the others in the room. */
const TRIGGER: NamespaceRow = {
  nsp: '/trigger',
  async setUp(ctx, server, verb, actors = 1) {
    const room = unique('timeline');
    const observer = await open(ctx, server, '/trigger');
    expect(await observer.request('JOIN', room)).toEqual([]);
    const all = await Promise.all(Array.from({ length: actors }, () => open(ctx, server, '/trigger')));
    if (verb === 'LEAVE') await Promise.all(all.map((actor) => actor.request('JOIN', room)));
    return { room, peer: '', observer, actors: all, rooms: (client) => roomsOf(server, '/trigger', client.id) };
  },
  inRoom: (verb) => verb === 'LEAVE',
  quiet: { observer: ['EVENTS', 'UPDATES', 'STATUS', 'ERROR'], actors: [] },
  verbs: [
    ...(['JOIN', 'LEAVE'] as const).map((verb) => ({
      verb,
      cases: triggerCases(verb),
      async valid(expect: ExpectStatic, { room, rooms }: Scene, actor: TestClient) {
        expect(await actor.request(verb, room)).toEqual([]);
        expect(rooms(actor)).toEqual(verb === 'JOIN' ? [room] : []);
      },
    })),
    ...(Object.keys(TRIGGER_FORWARDS) as (keyof typeof TRIGGER_FORWARDS)[]).map((verb) => ({
      verb,
      cases: triggerCases(verb),
      async valid(expect: ExpectStatic, { room, observer }: Scene, actor: TestClient) {
        actor.emit(verb, room, { valid: true });
        expect(await observer.nextValue(TRIGGER_FORWARDS[verb])).toEqual({ valid: true });
        expect(await actor.request('JOIN', room)).toEqual([]); // barrier for the ack check after it
      },
    })),
  ],
};

/** `/lobby`: one lobby per socket, given at connect; peers signal each other by public id. */
const LOBBY: NamespaceRow = {
  nsp: '/lobby',
  /**
   * Every JOINED (and, for JOIN, the actors' LEAVE and its LEFT) is consumed, so that anything the
   * observer gets later is news.
   */
  async setUp(ctx, server, verb, actors = 1) {
    const lobby = unique('lobby');
    const observer = await open(ctx, server, '/lobby', { lobbyId: lobby });
    expect(await observer.nextValue('JOINED')).toBe(observer.publicId);
    const all = await Promise.all(Array.from({ length: actors }, () => open(ctx, server, '/lobby', { lobbyId: lobby })));
    const joined = await Promise.all(all.map(() => observer.nextValue('JOINED')));
    expect([...joined].sort()).toEqual(all.map((actor) => actor.publicId).sort());
    if (verb === 'JOIN') {
      // Out of the lobby: only the validation stands between a refused JOIN and joining.
      await Promise.all(all.map(async (actor) => expect(await actor.request('LEAVE', lobby)).toEqual([])));
      const left = await Promise.all(all.map(() => observer.nextValue('LEFT')));
      expect([...left].sort()).toEqual(all.map((actor) => actor.publicId).sort());
    }
    return { room: lobby, peer: observer.publicId, observer, actors: all, rooms: (client) => roomsOf(server, '/lobby', client.id) };
  },
  inRoom: (verb) => verb !== 'JOIN',
  quiet: { observer: ['JOINED', 'LEFT', 'MESSAGE', 'RTCSIGNAL', 'ERROR'], actors: [] },
  verbs: [
    {
      verb: 'JOIN',
      cases: lobbyIdCases(),
      async valid(expect, { room, observer }, actor) {
        expect(await actor.request('JOIN', room)).toEqual([]);
        expect(await observer.nextValue('JOINED')).toBe(actor.publicId);
      },
    },
    {
      verb: 'LEAVE',
      cases: lobbyIdCases(),
      async valid(expect, { room, observer }, actor) {
        expect(await actor.request('LEAVE', room)).toEqual([]);
        expect(await observer.nextValue('LEFT')).toBe(actor.publicId);
      },
    },
    {
      verb: 'BROADCAST',
      cases: NOT_OBJECTS,
      async valid(expect, { observer }, actor) {
        actor.emit('BROADCAST', { message: 'valid' });
        expect(await observer.nextValue('MESSAGE')).toEqual({ from: actor.publicId, message: 'valid' });
        expect(await actor.nextValue('MESSAGE')).toEqual({ from: actor.publicId, message: 'valid' });
      },
    },
    {
      verb: 'RTCSIGNAL',
      cases: [...NOT_OBJECTS, ...peerCases()],
      async valid(expect, { observer }, actor) {
        actor.emit('RTCSIGNAL', { to: observer.publicId, sdp: 'valid' });
        expect(await observer.nextValue('RTCSIGNAL')).toEqual({ to: observer.publicId, sdp: 'valid', from: actor.publicId });
      },
    },
  ],
};

const NAMESPACES: NamespaceRow[] = [roomNamespace('/layout'), roomNamespace('/bus'), TRIGGER, LOBBY];

// ---------------------------------------------------------------------------------------------
// The tests: every bad case of every verb alone, then all of a verb's cases at once

for (const namespace of NAMESPACES) {
  describe(`bad input on ${namespace.nsp}`, () => {
    const server = sharedServer();

    for (const { verb, cases, valid } of namespace.verbs) {
      describe.concurrent(verb, () => {
        it.for(cases)('refuses $label: ERROR to the sender, warning, no effect, still connected', async ({ args }, ctx) => {
          const { expect } = ctx;
          const scene = await namespace.setUp(ctx, server, verb);
          const [actor] = scene.actors;
          let acked = false;
          actor.emit(verb, ...args(scene), () => {
            acked = true;
          });

          expect(await actor.nextValue('ERROR')).toEqual(errorReply(verb));
          expectOneWarning(expect, server, actor.publicId, verb);
          expect(scene.rooms(actor)).toEqual(namespace.inRoom(verb) ? [scene.room] : []);
          // One socket's packets are handled in order: the valid request comes after all the refused one caused.
          await valid(expect, scene, actor);
          expect(acked).toBe(false);
        });

        it(`all ${cases.length} refusals at once: none acked, one ERROR each, nothing reaches another client`, async (ctx) => {
          const { expect } = ctx;
          const scene = await namespace.setUp(ctx, server, verb, cases.length);
          const { observer, actors } = scene;
          const { quiet } = namespace;
          const [acks, actorErrors, actorHeard, observerHeard] = await Promise.all([
            Promise.all(actors.map((actor, i) => actor.acked(verb, ...cases[i].args(scene)))),
            Promise.all(actors.map((actor) => actor.drain('ERROR'))),
            Promise.all(actors.map((actor) => Promise.all(quiet.actors.map((event) => actor.drain(event))))),
            Promise.all(quiet.observer.map((event) => observer.drain(event))),
          ]);
          const byLabel = <T>(values: T[]) => Object.fromEntries(cases.map(({ label }, i) => [label, values[i]]));
          const byEvent = (events: string[], heard: unknown[][][]) => Object.fromEntries(events.map((event, i) => [event, heard[i]]));
          const nothing = (events: string[]) => byEvent(events, events.map(() => []));
          expect(byLabel(acks)).toEqual(byLabel(cases.map(() => false)));
          expect(byLabel(actorErrors)).toEqual(byLabel(cases.map(() => [[errorReply(verb)]])));
          expect(byLabel(actorHeard.map((heard) => byEvent(quiet.actors, heard)))).toEqual(byLabel(cases.map(() => nothing(quiet.actors))));
          expect(byEvent(quiet.observer, observerHeard)).toEqual(nothing(quiet.observer));
          const expectedRooms = namespace.inRoom(verb) ? [scene.room] : [];
          expect(byLabel(actors.map(scene.rooms))).toEqual(byLabel(cases.map(() => expectedRooms)));
          await namespace.roster?.(expect, scene, verb);
        });
      });
    }
  });
}

describe.concurrent('bad input on /lobby: well-shaped requests the lobby state forbids', () => {
  const server = sharedServer();

  it('RTCSIGNAL to a socket of another lobby: ERROR, the stranger gets nothing', async (ctx) => {
    const { expect } = ctx;
    const { observer: actor } = await LOBBY.setUp(ctx, server, 'RTCSIGNAL', 0);
    const stranger = await open(ctx, server, '/lobby', { lobbyId: unique('elsewhere') });
    actor.emit('RTCSIGNAL', { to: stranger.publicId, sdp: 'leaked' });
    expect(await actor.nextValue('ERROR')).toEqual(errorReply('RTCSIGNAL'));
    expect(await stranger.drain('RTCSIGNAL')).toEqual([]);
    expectOneWarning(expect, server, actor.publicId, 'RTCSIGNAL');
  });

  it('BROADCAST and RTCSIGNAL after leaving the lobby: ERROR, the former lobby mates get nothing', async (ctx) => {
    const { expect } = ctx;
    const { room: lobby, observer, actors: [actor] } = await LOBBY.setUp(ctx, server, 'LEAVE');
    expect(await actor.request('LEAVE', lobby)).toEqual([]);
    expect(await observer.nextValue('LEFT')).toBe(actor.publicId);
    actor.emit('BROADCAST', { message: 'leaked' });
    actor.emit('RTCSIGNAL', { to: observer.publicId, sdp: 'leaked' });
    expect(await actor.nextValue('ERROR')).toEqual(errorReply('BROADCAST'));
    expect(await actor.nextValue('ERROR')).toEqual(errorReply('RTCSIGNAL'));
    const [messages, signals] = await Promise.all([observer.drain('MESSAGE'), observer.drain('RTCSIGNAL')]);
    expect({ messages, signals }).toEqual({ messages: [], signals: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// Valid variants: what must NOT be refused

describe('accepted variants', () => {
  const server = sharedServer();

  describe.concurrent.each(['/layout', '/bus'])('%s', (nsp) => {
    it('number room and name are taken as their strings: JOIN {room: 7, name: 8}, CLIENTS {room: "7"} lists "8"', async (ctx) => {
      const { expect } = ctx;
      const room = 7_000_000 + ++sequence;
      const name = 8_000_000 + sequence;
      const member = await open(ctx, server, nsp);
      expect(await member.request('JOIN', { room, name })).toEqual([]);
      const asker = await open(ctx, server, nsp);
      asker.emit('CLIENTS', { room: String(room) });
      expect(await asker.nextValue('CLIENTS')).toEqual({ room: String(room), clients: [String(name)] });
      asker.emit('CLIENTS', json({ room }));
      expect(await asker.nextValue('CLIENTS')).toEqual({ room: String(room), clients: [String(name)] });
      // NOTIFY to the number reaches the string room, and the sender's name is the string.
      const publisher = await open(ctx, server, nsp);
      expect(await publisher.request('JOIN', json({ room: 'elsewhere', name: 9 }))).toEqual([]);
      publisher.emit('NOTIFY', { room, message: 1 });
      expect(await member.nextValue('EVENT')).toEqual({ sender: '9', room: String(room), message: 1 });
      expect(await member.request('LEAVE', { room })).toEqual([]);
      expect(roomsOf(server, nsp, member.id)).toEqual([]);
    });

    it.for(['object', 'JSON string'] as const)('every verb works in the %s form', async (form, ctx) => {
      const { expect } = ctx;
      const encode = (request: Record<string, unknown>) => (form === 'object' ? request : json(request));
      const room = unique('form');
      const member = await open(ctx, server, nsp);
      const other = await open(ctx, server, nsp);
      expect(await member.request('JOIN', encode({ room, name: 'member' }))).toEqual([]);
      expect(await other.request('JOIN', encode({ room, name: 'other' }))).toEqual([]);
      other.emit('CLIENTS', encode({ room }));
      const listed = (await other.nextValue('CLIENTS')) as { room: string; clients: string[] };
      expect({ room: listed.room, clients: [...listed.clients].sort() }).toEqual({ room, clients: ['member', 'other'] });
      // A `sender` field in the payload is ignored (the layout service sends one).
      other.emit('NOTIFY', encode({ room, message: { deep: [1, 'two', null] }, sender: 'forged' }));
      expect(await member.nextValue('EVENT')).toEqual({ sender: 'other', room, message: { deep: [1, 'two', null] } });
      expect(await member.request('LEAVE', encode({ room }))).toEqual([]);
      other.emit('CLIENTS', encode({ room }));
      expect(await other.nextValue('CLIENTS')).toEqual({ room, clients: ['other'] });
      // NOTIFY with a null or falsy message is not "missing".
      member.emit('NOTIFY', encode({ room, message: null }));
      member.emit('NOTIFY', encode({ room, message: 0 }));
      expect(await other.nextValue('EVENT')).toEqual({ sender: 'member', room, message: null });
      expect(await other.nextValue('EVENT')).toEqual({ sender: 'member', room, message: 0 });
    });
  });

  it('/trigger: a number room is taken as its string', async (ctx) => {
    const room = 7_000_000 + ++sequence;
    const member = await open(ctx, server, '/trigger');
    expect(await member.request('JOIN', room)).toEqual([]);
    expect(roomsOf(server, '/trigger', member.id)).toEqual([String(room)]);
    const sender = await open(ctx, server, '/trigger');
    sender.emit('BROADCAST_STATUS', room, { n: 1 });
    sender.emit('BROADCAST_UPDATES', String(room), { n: 2 });
    expect(await member.nextValue('STATUS')).toEqual({ n: 1 });
    expect(await member.nextValue('UPDATES')).toEqual({ n: 2 });
    expect(await member.request('LEAVE', room)).toEqual([]);
    expect(roomsOf(server, '/trigger', member.id)).toEqual([]);
  });

  it('/lobby: a number lobby id is taken as its string', async (ctx) => {
    const lobby = unique('lobby');
    const member = await open(ctx, server, '/lobby', { lobbyId: lobby });
    expect(await member.request('LEAVE', lobby)).toEqual([]);
    const id = 9_000_000 + ++sequence;
    expect(await member.request('JOIN', id)).toEqual([]);
    expect(roomsOf(server, '/lobby', member.id)).toEqual([String(id)]);
    expect(await member.request('LEAVE', id)).toEqual([]);
    expect(roomsOf(server, '/lobby', member.id)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Old clients get the same refusal

describe.each(['v1', 'v2'] as const)('socket.io-client %s', (version) => {
  it('a bad JOIN on /layout is not acked, gets ERROR, and the connection stays up', async () => {
    const { url, records } = await startServer();
    const client = await connect(version, url, '/layout');
    const observer = await connect('v4', url, '/layout');
    expect(await observer.request('JOIN', json({ room: 'r', name: 'observer' }))).toEqual([]);
    const [acked, errors] = await Promise.all([client.acked('JOIN', json({ room: 'r' })), observer.drain('ERROR')]);
    expect(acked).toBe(false);
    expect(errors).toEqual([]);
    expect(await client.nextValue('ERROR')).toEqual(errorReply('JOIN'));
    expect(records.filter((record) => record.level === 40 && String(record.msg).includes('JOIN'))).toHaveLength(1);
    expect(await client.request('JOIN', json({ room: 'r', name: 'old' }))).toEqual([]);
    observer.emit('CLIENTS', json({ room: 'r' }));
    const listed = (await observer.nextValue('CLIENTS')) as { clients: string[] };
    expect([...listed.clients].sort()).toEqual(['observer', 'old']);
  });
});
