/**
 * The service tried as an attacker would (issue "Security, round two"): no session id reaches
 * another party, the console is closed by default and cheap however big the node, sessions
 * without the token cannot take the slots, client text cannot forge log lines, secrets stay out of
 * logs, the event rate belongs to the connection, and every request's Origin is checked.
 */
import { PassThrough } from 'node:stream';
import { io as ioV4, Manager } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import { describe, expect, it } from 'vitest';
import { createLogger, createServer, type LogFormat } from '../../src';
import { printableConfig, resolveOptions } from '../../src/options';
import { EVENT_TIMEOUT, json, registerService, sleep, startServer } from '../helpers';
import { RawClient } from '../support/raw-client';

const TOKEN = 'security-test-token-0123';

/** Resolves with the first value `source` gives `event`, or fails after EVENT_TIMEOUT. */
function once<T = unknown>(source: { once(event: string, listener: (value: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${EVENT_TIMEOUT} ms`)), EVENT_TIMEOUT);
    source.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe('no Engine.IO session id reaches another party', () => {
  it('a 2.x polling client in a lobby and a /layout room: peers and the console see only its public id; RTCSIGNAL still reaches it', async () => {
    const server = await startServer({ consoleToken: TOKEN });
    // One 2.x connection over polling, multiplexed: /lobby and /layout share its Engine.IO session.
    type V2Socket = { once(event: string, listener: (value: never) => void): unknown; emit(event: string, ...args: unknown[]): unknown; close(): unknown };
    const lobby = ioV2(`${server.url}/lobby`, { query: { lobbyId: 'party' }, transports: ['polling'], forceNew: true, reconnection: false }) as unknown as V2Socket;
    const layout = (lobby as unknown as { io: { socket(nsp: string): V2Socket } }).io.socket('/layout');
    await once(lobby, 'connect');
    await once(layout, 'connect');
    const sid = (lobby as unknown as { io: { engine: { id: string } } }).io.engine.id;
    expect(sid).toMatch(/\S{10,}/);
    const joined = new Promise((resolve) => layout.emit('JOIN', json({ room: 'context', name: 'legacy-tv' }), resolve));
    await joined;

    const peer = ioV4(`${server.url}/lobby`, { query: { lobbyId: 'party' }, forceNew: true, reconnection: false });
    const seen: unknown[][] = [];
    peer.onAny((...args) => seen.push(args));
    const peers = await once<string[]>(peer as never, 'PEERS');
    const legacyId = peers[0];
    expect(legacyId).toEqual(expect.any(String));

    // Signalling through the public id the peer was given reaches the 2.x client.
    const signal = once<Record<string, unknown>>(lobby, 'RTCSIGNAL');
    peer.emit('RTCSIGNAL', { to: legacyId, sdp: 'offer' });
    expect(await signal).toEqual({ to: legacyId, sdp: 'offer', from: expect.any(String) });
    lobby.emit('BROADCAST', { message: 'hello' });
    await expect.poll(() => seen.some(([event]) => event === 'MESSAGE')).toBe(true);

    const state = await (await fetch(`${server.url}/console/api/state?token=${TOKEN}`)).text();
    expect(state).toContain('legacy-tv');
    expect(state).toContain(legacyId);
    lobby.close();
    await expect.poll(() => seen.some(([event]) => event === 'LEFT')).toBe(true);

    expect(JSON.stringify(seen)).toContain(legacyId);
    expect(JSON.stringify(seen)).not.toContain(sid);
    expect(state).not.toContain(sid);
    expect(JSON.stringify(server.records)).not.toContain(sid);
    peer.close();
  });
});

describe('the console', () => {
  it('stays cheap on a big node: 60 sockets × 1,000 rooms × 512-character names, 20 concurrent reads', async () => {
    const server = await startServer({ consoleToken: TOKEN });
    const clients = await Promise.all(
      Array.from({ length: 60 }, () => {
        const socket = ioV4(`${server.url}/layout`, { forceNew: true, transports: ['websocket'], reconnection: false });
        return once(socket, 'connect').then(() => socket);
      }),
    );
    const long = (i: number) => String(i).padStart(512, 'r');
    let n = 0;
    for (const socket of server.service.io.of('/layout').sockets.values()) {
      socket.data.name = String(n++).padStart(512, 'n');
      socket.join(Array.from({ length: 1000 }, (_, i) => `room:${long(i)}`));
    }
    // CPU time of this process (server and clients): unlike wall time, a busy machine leaves it be.
    const cpuMs = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    const read = () => fetch(`${server.url}/console/api/state?token=${TOKEN}`).then((r) => r.arrayBuffer());
    let started = cpuMs();
    await read();
    const oneRead = cpuMs() - started;
    await sleep(600); // past the age at which a state is shared
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let slowest = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const started = performance.now();
        expect((await fetch(`${server.url}/healthcheck`)).status).toBe(200);
        slowest = Math.max(slowest, performance.now() - started);
        await sleep(10);
      }
    })();
    // Bodies taken as bytes: this process also runs the server, and decoding 20 answers here
    // would be the test's work, not the node's.
    started = cpuMs();
    const answers = await Promise.all(Array.from({ length: 20 }, read));
    const twentyReads = cpuMs() - started;
    probing = false;
    await probe;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    const body = Buffer.from(answers[0]).toString('utf8');
    expect(new Set(answers.map((answer) => answer.byteLength)).size).toBe(1);
    console.log(
      `console state: ${body.length} bytes; CPU ${oneRead.toFixed(0)} ms for one read, ${twentyReads.toFixed(0)} ms for 20 at once; ` +
        `slowest /healthcheck meanwhile ${slowest.toFixed(0)} ms; RSS +${(rssGrowth / 1e6).toFixed(1)} MB`,
    );
    const state = JSON.parse(body);
    expect(state.truncated).toBe(true);
    expect(state.namespaces[0]).toMatchObject({ name: '/layout', connections: 60, roomCount: 1000 });
    expect(body.length).toBeLessThan(400_000);
    // Twenty readers at once share one state: building it twenty times would cost twenty reads,
    // where sharing it costs one build and twenty copies of the answer.
    expect(twentyReads).toBeLessThan(8 * oneRead);
    expect(rssGrowth).toBeLessThan(50 * 1024 * 1024);
    for (const socket of clients) socket.close();
  }, 30_000);
});

describe('sessions without the token', () => {
  it('cannot keep a client with the token out: 20 token-less sessions against --max-connections 20', async () => {
    const server = await startServer({ clientToken: TOKEN, maxConnections: 20 });
    const handshake = async () => {
      const response = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
      expect(response.status).toBe(200);
      return JSON.parse((await response.text()).slice(1)).sid as string;
    };
    const sids = [];
    for (let i = 0; i < 20; i++) sids.push(await handshake());
    // Some even try a namespace without the token, and are refused.
    for (const sid of sids.slice(0, 5)) {
      await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '40/layout,' });
    }
    expect(server.service.io.engine.clientsCount).toBe(20);

    const client = ioV4(`${server.url}/layout`, { auth: { token: TOKEN }, forceNew: true, reconnection: false });
    await once(client, 'connect');
    client.close();
    // Unadmitted sessions do not live long when a token is required.
    await expect.poll(() => server.service.io.engine.clientsCount, { timeout: 8000, interval: 200 }).toBe(0);
  }, 15_000);

  it('are capped per address: beyond --max-pending-per-address, the oldest idle one is closed', async () => {
    const server = await startServer({ clientToken: TOKEN, maxPendingPerAddress: 8 });
    const open = () => fetch(`${server.url}/socket.io/?EIO=4&transport=polling`).then((response) => expect(response.status).toBe(200));
    for (let i = 0; i < 8; i++) await open();
    // A burst beyond the cap is let in while nobody has been idle for a second.
    for (let i = 0; i < 4; i++) await open();
    expect(server.service.io.engine.clientsCount).toBe(12);
    await sleep(1100);
    for (let i = 0; i < 4; i++) await open();
    expect(server.service.io.engine.clientsCount).toBe(12);
    // An admitted client is no longer pending, and is not closed by newcomers.
    const client = ioV4(`${server.url}/layout`, { auth: { token: TOKEN }, forceNew: true, reconnection: false });
    await once(client, 'connect');
    for (let i = 0; i < 12; i++) await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    await sleep(100);
    expect(client.connected).toBe(true);
    client.close();
  });
});

describe('log lines cannot be forged', () => {
  it.each(['json', 'pretty', '2immerse'] as LogFormat[])('%s: a newline in an RTCSIGNAL "to", a name or an event stays inside its record', async (format) => {
    const out = new PassThrough();
    const text: string[] = [];
    out.on('data', (chunk) => text.push(String(chunk)));
    const service = createServer({ port: 0, host: '127.0.0.1', console: false }, { logger: createLogger({ format, verbose: true, destination: out }) });
    registerService(service);
    const { port } = await service.listen();
    try {
      const peer = ioV4(`http://127.0.0.1:${port}/lobby`, { query: { lobbyId: 'L' }, forceNew: true, reconnection: false });
      await once(peer, 'connect');
      const refused = once<{ message: string }>(peer as never, 'ERROR');
      peer.emit('RTCSIGNAL', { to: 'x\nFORGED {"level":60,"msg":"forged"}\r\n', sdp: 'x' });
      expect((await refused).message).toContain('FORGED');
      const layout = ioV4(`http://127.0.0.1:${port}/layout`, { forceNew: true, reconnection: false });
      await once(layout, 'connect');
      await new Promise((resolve) => layout.emit('JOIN', json({ room: 'r\nFORGED', name: 'n\nFORGED' }), resolve));
      layout.emit('join\nFORGED', 'x');
      await sleep(200);
      peer.close();
      layout.close();
    } finally {
      await service.close();
    }
    const lines = text.join('').split('\n').filter(Boolean);
    expect(lines.join('\n')).toContain('FORGED');
    const start = { json: /^\{"level":/, pretty: /^\[\d\d:\d\d:\d\d\.\d{3}\] [A-Z]+/, '2immerse': /^2-Immerse subSource:ws level:/ }[format];
    expect(lines.filter((line) => !start.test(line))).toEqual([]);
  });
});

describe('secrets stay out of logs and config dumps', () => {
  it('a refused poll with a stale session id and ?token= logs the path, not the URL', async () => {
    const server = await startServer({ clientToken: TOKEN });
    const response = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling&sid=stale-session-0123&token=${TOKEN}`);
    expect(response.status).toBe(400);
    await expect.poll(() => server.records.filter((r) => r.msg === 'refused Engine.IO connection')).toEqual([
      expect.objectContaining({ path: '/socket.io/', eio: '3', transport: 'polling' }),
    ]);
    expect(JSON.stringify(server.records)).not.toContain(TOKEN);
    expect(JSON.stringify(server.records)).not.toContain('stale-session-0123');
  });

  it('--print-config masks the password of a redis:// URL as well as the tokens', () => {
    const printed = JSON.stringify(printableConfig(resolveOptions({ redis: 'redis://user:s3cret-pass@redis.example:6379', clientToken: TOKEN, consoleToken: TOKEN })));
    expect(printed).toContain('redis://user:********@redis.example:6379');
    expect(printed).not.toContain('s3cret-pass');
    expect(printed).not.toContain(TOKEN);
  });
});

describe('the event rate belongs to the connection', () => {
  it('leaving and re-entering a namespace (41 then 40) does not refill it', async () => {
    const server = await startServer({ eventRate: 10, eventBurst: 10 });
    const listener = ioV4(`${server.url}/layout`, { forceNew: true, reconnection: false });
    await once(listener, 'connect');
    await new Promise((resolve) => listener.emit('JOIN', json({ room: 'r', name: 'tv' }), resolve));
    let delivered = 0;
    listener.on('EVENT', () => delivered++);

    // /bus keeps the connection open while /layout comes and goes on it.
    const manager = new Manager(server.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    // manager.socket() connects the socket itself, and again on each call once it is inactive.
    const keeper = manager.socket('/bus');
    await once(keeper, 'connect');
    const started = Date.now();
    const connection = manager.engine.id;
    // Until the limiter, holding, expels the connection: a new one would start a new bucket.
    for (let cycle = 0; cycle < 15 && manager.engine.id === connection && keeper.connected; cycle++) {
      const cycling = manager.socket('/layout');
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('nothing'), EVENT_TIMEOUT);
        const settle = (what: string) => () => {
          clearTimeout(timer);
          cycling.off('connect').off('connect_error');
          resolve(what);
        };
        cycling.once('connect', settle('connected')).once('connect_error', settle('refused'));
      });
      expect(outcome, `cycle ${cycle}`).not.toBe('nothing');
      if (outcome === 'connected') for (let i = 0; i < 10; i++) cycling.emit('NOTIFY', json({ room: 'r', message: i }));
      await sleep(20);
      cycling.disconnect();
      // Socket.IO handles a DISCONNECT on the next tick: a CONNECT in the same read would find the
      // namespace still connected.
      await sleep(20);
    }
    const seconds = (Date.now() - started) / 1000;
    await sleep(300);
    // The burst, plus what refilled at 10/s; a bucket per namespace socket would let 150 through.
    expect(delivered).toBeLessThanOrEqual(10 + Math.ceil(10 * seconds) + 2);
    expect(delivered).toBeGreaterThan(0);
    keeper.close();
    listener.close();
  });
});

describe('Origin on every request', () => {
  it('with --cors-origin, a poll or POST of an existing session from another origin is refused', async () => {
    const server = await startServer({ corsOrigin: ['https://good.example'] });
    const good = { origin: 'https://good.example' };
    const evil = { origin: 'https://evil.example' };
    const open = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: good });
    expect(open.status).toBe(200);
    const sid = JSON.parse((await open.text()).slice(1)).sid as string;
    const session = `${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    expect((await fetch(session, { method: 'POST', body: '40/layout,', headers: evil })).status).toBe(400);
    expect((await fetch(session, { headers: evil })).status).toBe(400);
    expect(server.records).toContainEqual(expect.objectContaining({ level: 40, origin: 'https://evil.example', path: '/socket.io/' }));
    expect((await fetch(session, { method: 'POST', body: '40/layout,', headers: good })).status).toBe(200);
  });
});

describe('smaller ones', () => {
  it('the HTTP room id obeys --max-id-length', async () => {
    const server = await startServer({ maxIdLength: 16 });
    const response = await fetch(`${server.url}/bus-message/${'r'.repeat(17)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe('room is longer than 16 characters');
  });

  it('-0 and 1e309 as ids get a refusal that says what they are', async () => {
    const server = await startServer();
    const raw = await RawClient.open(server.port);
    await raw.connectNsp('/trigger');
    const error = (nsp: string) => raw.next((f) => typeof f === 'string' && f.startsWith(`42${nsp},["ERROR"`), 'ERROR');
    raw.send('42/trigger,["JOIN",-0]');
    expect(await error('/trigger')).toBe('42/trigger,["ERROR",{"event":"JOIN","message":"room must be a non-empty string or a finite number, got -0"}]');
    raw.send('42/trigger,["JOIN",1e309]');
    expect(await error('/trigger')).toBe(
      '42/trigger,["ERROR",{"event":"JOIN","message":"room must be a non-empty string or a finite number, got a number out of range"}]',
    );
    raw.close();
  });

  it('a huge ack id is refused, not echoed as 1e+23', async () => {
    const server = await startServer();
    const raw = await RawClient.open(server.port);
    await raw.connectNsp('/layout');
    raw.send('42/layout,123456789012345678901234["JOIN",{"room":"r","name":"n"}]');
    expect(await raw.next((f) => typeof f === 'string' && f.startsWith('42/layout,["ERROR"'), 'ERROR')).toBe(
      '42/layout,["ERROR",{"event":"JOIN","message":"acknowledgement id out of range"}]',
    );
    raw.send('42/layout,7["JOIN",{"room":"r","name":"n"}]');
    expect(await raw.next((f) => typeof f === 'string' && f.startsWith('43/layout,'), 'ack')).toBe('43/layout,7[]');
    expect(raw.frames.filter((f) => /e\+/.test(String(f)))).toEqual([]);
    expect([...server.service.io.of('/layout').sockets.values()][0].rooms.size).toBe(2);
    raw.close();
  });
});
