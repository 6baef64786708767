/**
 * An event sent right behind its namespace CONNECT, before the answer, as Python's socketIO-client
 * 0.6/0.7 sends it when it reconnects: `40/trigger,` then `42/trigger,["JOIN","toTimelines-D"]`.
 * When both arrive in one read (one TCP write over WebSocket, one POST over long-polling), the
 * namespace is not connected yet when the event is decoded; Socket.IO 4 closed the connection.
 * Here the frames are written by hand, so that they do arrive together.
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { CreateServerOptions } from '../../src';
import { MAX_HELD_PACKETS } from '../../src/engine/pending-connect';
import { roomKey } from '../../src/rooms';
import { connect, EVENT_TIMEOUT, QUIET_PERIOD, sleep, startServer, type TestServer } from '../helpers';

const ROOM = 'toTimelines-D';
/** The exact frames of socketIO-client 0.7's reconnect. */
const CONNECT = '40/trigger,';
const JOIN = `42/trigger,${JSON.stringify(['JOIN', ROOM])}`;
const TOKEN = 'client-token';

function start(options: CreateServerOptions = {}): Promise<TestServer> {
  return startServer({ console: false, ...options });
}

/** Polls `condition` until it holds; fails naming `what` otherwise. */
async function until(condition: () => boolean, what: string, timeout = EVENT_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** An Engine.IO session driven by hand: it sends packets in bursts and queues what it receives. */
abstract class BurstClient {
  /** Every Engine.IO packet received, in order. */
  readonly packets: string[] = [];
  closed = false;

  /** Sends `packets` (Engine.IO packets, e.g. `40/trigger,`) so that the server reads them at once. */
  abstract burst(packets: string[]): Promise<void>;
  abstract close(): void;

  protected receive(packet: string): void {
    this.packets.push(packet);
  }

  /** The first packet received that `match` accepts, waiting for it if need be. */
  async next(match: (packet: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + EVENT_TIMEOUT;
    for (;;) {
      const found = this.packets.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.closed) {
        throw new Error(`no ${what}${this.closed ? ' (the server closed the connection)' : ''}; received: ${this.packets.join(' | ')}`);
      }
      await sleep(10);
    }
  }
}

/** A masked WebSocket text frame, as a client writes it. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  if (payload.length > 0xffff) throw new Error('frame too long for this test');
  const mask = randomBytes(4);
  return Buffer.concat([Buffer.from([0x81]), length, mask, payload.map((byte, i) => byte ^ mask[i % 4])]);
}

class WebSocketBurstClient extends BurstClient {
  private constructor(private readonly ws: WebSocket) {
    super();
    ws.on('message', (data) => {
      const packet = data.toString();
      // Engine.IO v4: the server pings, the client answers.
      if (packet === '2') ws.send('3');
      this.receive(packet);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      this.closed = true;
    });
  }

  static async open(server: TestServer, eio: 3 | 4, query = ''): Promise<WebSocketBurstClient> {
    const client = new WebSocketBurstClient(new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=${eio}&transport=websocket${query}`));
    clients.push(client);
    await client.next((packet) => packet.startsWith('0{'), 'open packet');
    // Engine.IO v3 sessions are put in the main namespace unasked.
    if (eio === 3) await client.next((packet) => packet.startsWith('4'), 'main namespace answer');
    return client;
  }

  /** All frames in one write on the TCP socket. */
  async burst(packets: string[]): Promise<void> {
    const socket = (this.ws as unknown as { _socket: net.Socket })._socket;
    await new Promise<void>((resolve, reject) => socket.write(Buffer.concat(packets.map(clientFrame)), (error) => (error ? reject(error) : resolve())));
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Engine.IO v3 long-polling with text framing (`b64=1`): `length:packet` after one another. */
class PollingBurstClient extends BurstClient {
  private readonly abort = new AbortController();

  private constructor(private readonly base: string) {
    super();
  }

  static async open(server: TestServer): Promise<PollingBurstClient> {
    const handshake = await (await fetch(`${server.url}/socket.io/?EIO=3&transport=polling&b64=1`)).text();
    const sid = /"sid":"([^"]+)"/.exec(handshake)?.[1];
    if (!sid) throw new Error(`no sid in ${handshake}`);
    const client = new PollingBurstClient(`${server.url}/socket.io/?EIO=3&transport=polling&b64=1&sid=${sid}`);
    clients.push(client);
    for (const packet of decodeV3Payload(handshake)) client.receive(packet);
    void client.poll();
    if (!client.packets.some((packet) => packet.startsWith('4'))) await client.next((packet) => packet.startsWith('4'), 'main namespace answer');
    return client;
  }

  /** Long-polls until the session ends: a close packet or an unknown session. */
  private async poll(): Promise<void> {
    try {
      while (!this.closed) {
        const response = await fetch(this.base, { signal: this.abort.signal });
        const text = await response.text();
        if (response.status !== 200) break;
        for (const packet of decodeV3Payload(text)) {
          if (packet === '1') this.closed = true;
          this.receive(packet);
        }
      }
    } catch {
      // aborted at the end of the test
    }
    this.closed = true;
  }

  /** All packets in one POST payload. */
  async burst(packets: string[]): Promise<void> {
    const body = packets.map((packet) => `${packet.length}:${packet}`).join('');
    const response = await fetch(this.base, { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    expect(await response.text()).toBe('ok');
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }
}

function decodeV3Payload(text: string): string[] {
  const packets: string[] = [];
  for (let at = 0; at < text.length; ) {
    const colon = text.indexOf(':', at);
    const length = Number(text.slice(at, colon));
    packets.push(text.slice(colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  return packets;
}

const clients: BurstClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

const members = (server: TestServer, room: string) => server.service.io.of('/trigger').adapter.rooms.get(roomKey(room))?.size ?? 0;
const isConnectAnswer = (packet: string) => packet.startsWith('40/trigger');
const isUpdates = (packet: string) => packet.startsWith('42/trigger,["UPDATES"');

/**
 * The timeline service's case: `client` sent CONNECT and JOIN together; it must be in the room,
 * receive the UPDATES another client sends there, and keep its connection.
 */
async function expectJoinedAndRelayed(server: TestServer, client: BurstClient): Promise<void> {
  await client.next(isConnectAnswer, '/trigger connect answer');
  await until(() => members(server, ROOM) === 1 || client.closed, `the burst client in ${ROOM}`);
  expect(client.closed).toBe(false);
  expect(members(server, ROOM)).toBe(1);
  const editor = await connect('v4', server.url, '/trigger');
  editor.emit('BROADCAST_UPDATES', ROOM, { step: 3 });
  expect(await client.next(isUpdates, 'UPDATES')).toBe(`42/trigger,${JSON.stringify(['UPDATES', { step: 3 }])}`);
  await sleep(QUIET_PERIOD);
  expect(client.closed).toBe(false);
  expect(server.service.io.engine.clientsCount).toBe(2);
}

describe('CONNECT and an event in one read', () => {
  it.each([3, 4] as const)('EIO=%i WebSocket: both frames in one TCP write; the event is handled once the namespace is connected', async (eio) => {
    const server = await start();
    const client = await WebSocketBurstClient.open(server, eio);
    await client.burst([CONNECT, JOIN]);
    await expectJoinedAndRelayed(server, client);
  });

  it('EIO=3 long-polling: both packets in one POST payload', async () => {
    const server = await start();
    const client = await PollingBurstClient.open(server);
    await client.burst([CONNECT, JOIN]);
    await expectJoinedAndRelayed(server, client);
  });

  it(`keeps up to ${MAX_HELD_PACKETS} packets and handles them in the order they came`, async () => {
    const server = await start();
    const listener = await connect('v4', server.url, '/trigger');
    await listener.request('JOIN', 'R');
    const client = await WebSocketBurstClient.open(server, 3);
    const events = Array.from({ length: MAX_HELD_PACKETS }, (_, i) => `42/trigger,${JSON.stringify(['BROADCAST_UPDATES', 'R', { i }])}`);
    await client.burst([CONNECT, ...events]);
    const received = [];
    for (let i = 0; i < MAX_HELD_PACKETS; i++) received.push(await listener.nextValue('UPDATES'));
    expect(received).toEqual(Array.from({ length: MAX_HELD_PACKETS }, (_, i) => ({ i })));
    expect(client.closed).toBe(false);
  });

  it('a refused CONNECT: the client gets its error, what came behind it is dropped, and the connection stays', async () => {
    const server = await start({ clientToken: TOKEN });
    // Without the token, the main namespace is refused too: the session stays open all the same.
    const client = await WebSocketBurstClient.open(server, 3);
    await client.burst([CONNECT, JOIN]);
    expect(await client.next((packet) => packet.startsWith('44/trigger'), '/trigger refusal')).toMatch(/unauthorized/);
    await sleep(QUIET_PERIOD);
    expect(client.closed).toBe(false);
    expect(members(server, ROOM)).toBe(0);

    // The same burst again, with the token, on the same session.
    await client.burst([`40/trigger?token=${TOKEN},`, JOIN]);
    await until(() => members(server, ROOM) === 1 || client.closed, `the burst client in ${ROOM}`);
    expect(client.closed).toBe(false);
    const editor = await connect('v4', server.url, '/trigger', { query: { token: TOKEN } });
    editor.emit('BROADCAST_UPDATES', ROOM, { step: 4 });
    expect(await client.next(isUpdates, 'UPDATES')).toBe(`42/trigger,${JSON.stringify(['UPDATES', { step: 4 }])}`);
  });

  it('refused packets behind a CONNECT still get the usual ERROR', async () => {
    const server = await start();
    const client = await WebSocketBurstClient.open(server, 3);
    await client.burst([CONNECT, '42/trigger,["JOIN",""]', JOIN]);
    expect(await client.next((packet) => packet.startsWith('42/trigger,["ERROR"'), 'ERROR')).toMatch(/"event":"JOIN"/);
    await expectJoinedAndRelayed(server, client);
  });

  it(`closes a connection that sends more than ${MAX_HELD_PACKETS} packets before its CONNECT is answered, as Socket.IO does`, async () => {
    const server = await start();
    const client = await WebSocketBurstClient.open(server, 3);
    const events = Array.from({ length: MAX_HELD_PACKETS + 1 }, (_, i) => `42/trigger,${JSON.stringify(['BROADCAST_UPDATES', 'R', { i }])}`);
    await client.burst([CONNECT, ...events]);
    await until(() => client.closed, 'the connection closed');
  });

  it('closes a connection that sends more than maxHttpBufferSize bytes before its CONNECT is answered', async () => {
    const server = await start({ maxHttpBufferSize: 10_000 });
    const event = (i: number) => `42/trigger,${JSON.stringify(['BROADCAST_UPDATES', 'R', { i, pad: 'x'.repeat(6000) }])}`;
    const listener = await connect('v4', server.url, '/trigger');
    await listener.request('JOIN', 'R');

    const within = await WebSocketBurstClient.open(server, 3);
    await within.burst([CONNECT, event(0)]);
    expect(((await listener.nextValue('UPDATES')) as { i: number }).i).toBe(0);
    expect(within.closed).toBe(false);

    const beyond = await WebSocketBurstClient.open(server, 3);
    await beyond.burst([CONNECT, event(1), event(2)]);
    await until(() => beyond.closed, 'the connection closed');
    expect(await listener.drain('UPDATES')).toEqual([]);
  });
});
