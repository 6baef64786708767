/**
 * A socket's requests are handled, and answered, in the order it sent them: sent in a burst,
 * a mix of valid and refused verbs, synchronous and asynchronous ones, come back as acks, ERRORs
 * and replies in request order, so a client can tell which request each answer is for.
 */
import { io as ioV4 } from 'socket.io-client';
import ioV1 from 'socket.io-client-v1';
import ioV2 from 'socket.io-client-v2';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_TIMEOUT, json, QUIET_PERIOD, sleep, startServer, WIRES, type ClientVersion, type LegacySocket, type Transport } from '../helpers';

/** One request of a burst: the verb, its arguments, and whether it asks for an ack. */
type Request = [verb: string, args: unknown[], ack?: 'ack'];

/** A client of any generation whose every answer goes into one list, in arrival order. */
interface Recorder {
  socket: LegacySocket;
  answers: string[];
}

const sockets: LegacySocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

/** What the client received, as one line: `ERROR <verb>`, `CLIENTS <room>: <names>`, … */
const DESCRIBE: Record<string, (value: unknown) => string> = {
  ERROR: (value) => `ERROR ${(value as { event: string }).event}`,
  CLIENTS: (value) => `CLIENTS ${(value as { room: string }).room}: ${(value as { clients: string[] }).clients.join(',')}`,
  MESSAGE: (value) => `MESSAGE ${(value as { message: unknown }).message}`,
  JOINED: () => 'JOINED',
  LEFT: () => 'LEFT',
  PEERS: () => 'PEERS',
};

async function open(version: ClientVersion, transport: Transport, url: string, nsp: string, query?: Record<string, string>): Promise<Recorder> {
  const common = { forceNew: true, multiplex: false, reconnection: false, transports: [transport] };
  const search = query ? '?' + new URLSearchParams(query).toString() : '';
  const socket = (
    version === 'v4' ? ioV4(url + nsp, { ...common, query }) : (version === 'v1' ? ioV1 : ioV2)(url + nsp + search, common)
  ) as unknown as LegacySocket;
  sockets.push(socket);
  const answers: string[] = [];
  for (const [event, describe] of Object.entries(DESCRIBE)) socket.on(event, (value: unknown) => answers.push(describe(value)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${version} did not connect to ${nsp}`)), EVENT_TIMEOUT);
    socket.on('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { socket, answers };
}

/** Sends every request at once, then waits for `expected.length` answers and a quiet period. */
async function burst({ socket, answers }: Recorder, requests: Request[], expected: number): Promise<string[]> {
  answers.length = 0;
  for (const [verb, args, ack] of requests) {
    if (ack) socket.emit(verb, ...args, (...reply: unknown[]) => answers.push(reply.length ? `ack ${verb} (refused)` : `ack ${verb}`));
    else socket.emit(verb, ...args);
  }
  const deadline = Date.now() + EVENT_TIMEOUT;
  while (answers.length < expected && Date.now() < deadline) await sleep(10);
  await sleep(QUIET_PERIOD);
  return [...answers];
}

describe.each(WIRES)('request order: $version over $transport', ({ version, transport }) => {
  it('/layout: every request refused, async and sync alike, answered in request order', async () => {
    const { url } = await startServer();
    const client = await open(version, transport, url, '/layout');
    const requests: Request[] = [
      ['JOIN', [json({ room: 'r' })], 'ack'],
      ['NOTIFY', [json({ room: 'r' })]],
      ['CLIENTS', [json({})]],
      ['LEAVE', ['not json'], 'ack'],
      ['NOTIFY', [42]],
    ];
    expect(await burst(client, requests, 5)).toEqual(['ERROR JOIN', 'ERROR NOTIFY', 'ERROR CLIENTS', 'ERROR LEAVE', 'ERROR NOTIFY']);
  });

  it('/layout: valid and refused requests mixed, acks, ERRORs and replies in request order', async () => {
    const { url } = await startServer();
    const client = await open(version, transport, url, '/layout');
    const requests: Request[] = [
      ['JOIN', [json({ room: 'r', name: 'me' })], 'ack'],
      ['NOTIFY', [json({ room: 'r' })]],
      ['CLIENTS', [json({ room: 'r' })]],
      ['LEAVE', [json({ room: '' })], 'ack'],
      ['NOTIFY', [json({ room: 'r', message: 'to the others' })]],
      ['LEAVE', [json({ room: 'r' })], 'ack'],
      ['CLIENTS', [json({ room: 'r' })]],
      ['NOTIFY', ['nope']],
    ];
    expect(await burst(client, requests, 7)).toEqual([
      'ack JOIN',
      'ERROR NOTIFY',
      'CLIENTS r: me',
      'ERROR LEAVE',
      'ack LEAVE',
      'CLIENTS r: ',
      'ERROR NOTIFY',
    ]);
  });

  it('/trigger: valid and refused requests mixed, in request order', async () => {
    const { url } = await startServer();
    const client = await open(version, transport, url, '/trigger');
    const requests: Request[] = [
      ['JOIN', [''], 'ack'],
      ['BROADCAST_UPDATES', ['', { step: 1 }]],
      ['JOIN', ['t'], 'ack'],
      ['LEAVE', [{ room: 't' }], 'ack'],
      ['BROADCAST_STATUS', ['t', { ok: true }]],
      ['LEAVE', ['t'], 'ack'],
      ['BROADCAST_EVENTS', [null, {}]],
    ];
    expect(await burst(client, requests, 6)).toEqual(['ERROR JOIN', 'ERROR BROADCAST_UPDATES', 'ack JOIN', 'ERROR LEAVE', 'ack LEAVE', 'ERROR BROADCAST_EVENTS']);
  });

  it('/lobby: valid and refused requests mixed, acks, ERRORs and lobby events in request order', async () => {
    const { url } = await startServer();
    const client = await open(version, transport, url, '/lobby', { lobbyId: 'L' });
    const deadline = Date.now() + EVENT_TIMEOUT;
    while (!client.answers.includes('PEERS') && Date.now() < deadline) await sleep(10);
    expect(client.answers).toEqual(['JOINED', 'PEERS']);
    const requests: Request[] = [
      ['JOIN', ['M'], 'ack'],
      ['BROADCAST', [5]],
      ['RTCSIGNAL', [{ to: 'nobody', sdp: 'x' }]],
      ['LEAVE', ['L'], 'ack'],
      ['BROADCAST', [{ message: 'alone' }]],
      ['JOIN', ['L'], 'ack'],
      ['BROADCAST', [{ message: 'hi' }]],
      ['LEAVE', ['X'], 'ack'],
    ];
    expect(await burst(client, requests, 9)).toEqual([
      'ack JOIN (refused)',
      'ERROR BROADCAST',
      'ERROR RTCSIGNAL',
      'ack LEAVE',
      'ERROR BROADCAST',
      'JOINED',
      'ack JOIN',
      'MESSAGE hi',
      'ack LEAVE (refused)',
    ]);
  });
});
