/**
 * The HTTP endpoints (README, "The protocol" > "HTTP endpoints"): `GET /` and `GET /healthcheck`,
 * and `POST /bus-message/:roomId`, which publishes its JSON body to the `/bus` room as
 * `["EVENT", {sender: "POST", room, message}]`, answers how many local sockets got it, and refuses
 * anything else with a short text reason (400, 403, 405, 413, 415), publishing nothing.
 *
 * One server (maxPublishBody 2048) for the file, a fresh room and fresh clients per test, so the
 * tests run concurrently and each quiet period is paid once in parallel. (startServer() and
 * connect() close what they open after each test, so a shared server cannot use them.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createServer, type WebsocketService } from '../../src';
import { connect, connectForTest, json, memoryLogger, startServer, type TestClient } from '../helpers';

const MAX_PUBLISH_BODY = 2048;

let service: WebsocketService;
let base: string;
let records: Record<string, unknown>[];

beforeAll(async () => {
  const { logger, records: written } = memoryLogger();
  records = written;
  service = createServer({ port: 0, host: '127.0.0.1', maxPublishBody: MAX_PUBLISH_BODY }, { logger });
  const { port } = await service.listen();
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await service?.close();
});

/** A socket.io-client 4 client, closed when its test finishes. */
const open = (ctx: TestContext, nsp: string): Promise<TestClient> => connectForTest(ctx, base, nsp);

/** A client of `nsp` that joined `room`. */
async function member(ctx: TestContext, nsp: '/bus' | '/layout', room: string, name: string): Promise<TestClient> {
  const client = await open(ctx, nsp);
  expect(await client.request('JOIN', json({ room, name }))).toEqual([]);
  return client;
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}-${++sequence}-${Math.random().toString(36).slice(2, 8)}`;

interface Reply {
  status: number;
  text: string;
  type: string | null;
}

/** POSTs to `/bus-message/` + `encodedRoom`, with that body and content type (none if undefined). */
async function publish(encodedRoom: string, body: RequestInit['body'] | undefined, contentType: string | undefined): Promise<Reply> {
  const response = await fetch(`${base}/bus-message/${encodedRoom}`, {
    method: 'POST',
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    ...(body === undefined ? {} : { body }),
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
}

/** A short human-readable reason, as text/plain (not an HTML error page, not a stack trace). */
function expectShortReason(reply: Reply): void {
  expect(reply.type).toMatch(/^text\/plain\b/);
  expect(reply.text).toMatch(/\S/);
  expect(reply.text.length).toBeLessThanOrEqual(200);
  expect(reply.text).not.toMatch(/<|\bat .*:\d+:\d+/);
}

describe('GET /healthcheck', () => {
  it('answers 200 "OK"', async () => {
    const response = await fetch(`${base}/healthcheck`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('OK');
  });
});

describe('GET /', () => {
  const { name, version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { name: string; version: string };

  it('names the service and its version, and where the console and health endpoints are', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain\b/);
    const text = await response.text();
    expect(text.split('\n')[0]).toBe(`${name} ${version}`);
    for (const link of ['/console/', '/healthcheck', '/readyz', '/metrics', 'POST /bus-message/ROOM', '/socket.io']) expect(text).toContain(link);
    expect(text.split('\n').length).toBeLessThanOrEqual(12);
  });

  it('reveals no token, the console\'s included', async () => {
    const { url } = await startServer({ clientToken: 'client-secret', publishToken: 'publish-secret', consoleToken: 'console-secret' });
    const text = await (await fetch(`${url}/`)).text();
    expect(text).toContain('/console/');
    expect(text).not.toMatch(/secret|token/i);
  });

  it('lists only what this node serves', async () => {
    const { url } = await startServer({ console: false, metrics: false });
    const text = await (await fetch(`${url}/`)).text();
    expect(text).toContain('/healthcheck');
    expect(text).not.toMatch(/\/console|\/metrics/);
  });
});

describe.concurrent('POST /bus-message/:roomId publishes to /bus', () => {
  it.for([
    { label: 'an object', body: { a: 1, nested: { list: [true, null, 'x'] } } },
    { label: 'an array', body: [1, 'two', { three: 3 }] },
    { label: 'a string', body: 'hello "world"' },
    { label: 'a number', body: 42.5 },
    { label: 'null', body: null },
    { label: 'false', body: false },
  ])('$label body: 200 OK, EVENT to the /bus room only', async ({ body }, ctx) => {
    const { expect } = ctx;
    const room = unique('room');
    const [target, sameNameOnLayout, otherRoom] = await Promise.all([
      member(ctx, '/bus', room, 'target'),
      member(ctx, '/layout', room, 'layout'),
      member(ctx, '/bus', `${room}-other`, 'other'),
    ]);
    const reply = await publish(encodeURIComponent(room), JSON.stringify(body), 'application/json');
    expect(reply).toEqual({ status: 200, text: 'OK: delivered to 1 local socket', type: expect.stringMatching(/^text\/plain\b/) });
    expect(await target.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: body });
    const [again, layout, other] = await Promise.all([target.drain('EVENT'), sameNameOnLayout.drain('EVENT'), otherRoom.drain('EVENT')]);
    expect({ again, layout, other }).toEqual({ again: [], layout: [], other: [] });
  });

  it.for([
    { encoded: 'a%20b%2Fc', room: 'a b/c' },
    { encoded: 'caf%C3%A9', room: 'café' },
    { encoded: '%E2%9C%93%3F%23%25', room: '✓?#%' },
    { encoded: 'plus%2Bsign', room: 'plus+sign' },
    // A path is not a form: "+" stays a plus.
    { encoded: 'a+b', room: 'a+b' },
  ])('the room id is URL-decoded: /bus-message/$encoded reaches room $room', async ({ encoded, room }, ctx) => {
    const { expect } = ctx;
    const [target, literal, spaced] = await Promise.all([
      member(ctx, '/bus', room, 'target'),
      // Members of the still-encoded name, and of "+" read as a space, must get nothing.
      encoded === room ? undefined : member(ctx, '/bus', encoded, 'literal'),
      room.includes('+') ? member(ctx, '/bus', room.replaceAll('+', ' '), 'spaced') : undefined,
    ]);
    const reply = await publish(encoded, '{"decoded":true}', 'application/json');
    expect({ status: reply.status, text: reply.text }).toEqual({ status: 200, text: 'OK: delivered to 1 local socket' });
    expect(await target.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: { decoded: true } });
    const [literalEvents, spacedEvents] = await Promise.all([literal?.drain('EVENT') ?? [], spaced?.drain('EVENT') ?? []]);
    expect({ literalEvents, spacedEvents }).toEqual({ literalEvents: [], spacedEvents: [] });
  });

  it.for(['application/json; charset=utf-8', 'application/vnd.api+json'])('content type %s is JSON too', async (contentType, ctx) => {
    const room = unique('type');
    const target = await member(ctx, '/bus', room, 'target');
    const reply = await publish(room, '{"ok":1}', contentType);
    ctx.expect({ status: reply.status, text: reply.text }).toEqual({ status: 200, text: 'OK: delivered to 1 local socket' });
    ctx.expect(await target.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: { ok: 1 } });
  });

  it(`a body of exactly maxPublishBody (${MAX_PUBLISH_BODY} bytes) is accepted`, async (ctx) => {
    const room = unique('limit');
    const target = await member(ctx, '/bus', room, 'target');
    const text = 'x'.repeat(MAX_PUBLISH_BODY - 2);
    const body = JSON.stringify(text);
    ctx.expect(Buffer.byteLength(body)).toBe(MAX_PUBLISH_BODY);
    const reply = await publish(room, body, 'application/json');
    ctx.expect({ status: reply.status, text: reply.text }).toEqual({ status: 200, text: 'OK: delivered to 1 local socket' });
    ctx.expect(await target.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: text });
  });
});

/** 4 KB of valid JSON: refused for its size alone. */
const BIG_BODY = JSON.stringify({ filler: 'y'.repeat(4096) });

describe.concurrent('POST /bus-message/:roomId refuses bad requests and publishes nothing', () => {
  it('a malformed percent-encoded room id: 400 with a short reason', async (ctx) => {
    const encoded = 'bad%E0%A4%A';
    const target = await member(ctx, '/bus', encoded, 'target');
    const reply = await publish(encoded, '{"a": 1}', 'application/json');
    ctx.expect(reply.status).toBe(400);
    expectShortReason(reply);
    ctx.expect(await target.drain('EVENT')).toEqual([]);
  });

  it.for([
    { label: 'malformed JSON', status: 400, contentType: 'application/json', body: () => '{"a": ' },
    { label: 'single-quoted pseudo-JSON', status: 400, contentType: 'application/json', body: () => "{'a': 1}" },
    { label: 'trailing garbage after JSON', status: 400, contentType: 'application/json', body: () => '{"a": 1} x' },
    { label: 'an empty body', status: 400, contentType: 'application/json', body: () => '' },
    { label: 'a whitespace-only body', status: 400, contentType: 'application/json', body: () => ' \n\t ' },
    { label: 'no body at all', status: 400, contentType: 'application/json', body: () => undefined },
    { label: 'text/plain', status: 415, contentType: 'text/plain', body: () => '{"a": 1}' },
    { label: 'no content type', status: 415, contentType: undefined, body: () => new TextEncoder().encode('{"a": 1}') },
    { label: 'a form', status: 415, contentType: 'application/x-www-form-urlencoded', body: () => 'a=1' },
    { label: 'a body over maxPublishBody', status: 413, contentType: 'application/json', body: () => BIG_BODY },
    {
      label: 'a chunked body over maxPublishBody (no content-length)',
      status: 413,
      contentType: 'application/json',
      body: () => Readable.toWeb(Readable.from([BIG_BODY.slice(0, 1000), BIG_BODY.slice(1000)])) as ReadableStream,
    },
  ])('$label: $status with a short reason', async ({ status, contentType, body }, ctx) => {
    const { expect } = ctx;
    const room = unique('refused');
    const target = await member(ctx, '/bus', room, 'target');
    const reply = await publish(encodeURIComponent(room), body(), contentType);
    expect(reply.status).toBe(status);
    expectShortReason(reply);
    expect(await target.drain('EVENT')).toEqual([]);
    // Still serving: a good request to the same room goes through, and is the first EVENT.
    expect((await publish(encodeURIComponent(room), '"after"', 'application/json')).status).toBe(200);
    expect(await target.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: 'after' });
  });
});

describe.concurrent('POST /bus-message/:roomId answers how many local sockets got the message', () => {
  it.for([0, 1, 3])('%i members in the room: the answer counts them', async (count, ctx) => {
    const room = unique('count');
    const members = await Promise.all(Array.from({ length: count }, (_, i) => member(ctx, '/bus', room, `m${i}`)));
    // Not counted: the same room on /layout, and a /bus socket that left it.
    await member(ctx, '/layout', room, 'layout');
    const gone = await member(ctx, '/bus', room, 'gone');
    await gone.request('LEAVE', json({ room }));
    const reply = await publish(room, '"hello"', 'application/json');
    ctx.expect(reply.text).toBe(`OK: delivered to ${count} local socket${count === 1 ? '' : 's'}`);
    for (const client of members) ctx.expect(await client.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: 'hello' });
  });
});

describe.concurrent('other methods on /bus-message/:roomId', () => {
  it.for(['GET', 'PUT', 'DELETE', 'PATCH'])('%s: 405 with Allow: POST, nothing published', async (method, ctx) => {
    const room = unique('method');
    const target = await member(ctx, '/bus', room, 'target');
    const response = await fetch(`${base}/bus-message/${room}`, { method, ...(method === 'GET' ? {} : { body: '{"a":1}', headers: { 'content-type': 'application/json' } }) });
    ctx.expect(response.status).toBe(405);
    ctx.expect(response.headers.get('allow')?.split(/,\s*/)).toContain('POST');
    expectShortReason({ status: response.status, text: await response.text(), type: response.headers.get('content-type') });
    ctx.expect(await target.drain('EVENT')).toEqual([]);
  });

  it('HEAD: 405 too', async (ctx) => {
    const response = await fetch(`${base}/bus-message/r`, { method: 'HEAD' });
    ctx.expect({ status: response.status, allow: response.headers.get('allow') }).toEqual({ status: 405, allow: 'POST, OPTIONS' });
  });
});

describe('CORS for POST /bus-message', () => {
  const ALLOWED = 'https://app.example';

  const preflight = (url: string, origin: string) =>
    fetch(`${url}/bus-message/room`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });

  it('answers the preflight of an origin --cors-origin allows, and marks the answer to its POST', async () => {
    const { url } = await startServer({ corsOrigin: [ALLOWED] });
    const response = await preflight(url, ALLOWED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-methods')).toBe('POST');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(['content-type', 'authorization']));
    expect(response.headers.get('vary')).toMatch(/Origin/);

    const posted = await fetch(`${url}/bus-message/room`, { method: 'POST', headers: { origin: ALLOWED, 'content-type': 'application/json' }, body: '1' });
    expect(posted.status).toBe(200);
    expect(posted.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    // A refusal is readable by the page too.
    const refused = await fetch(`${url}/bus-message/room`, { method: 'POST', headers: { origin: ALLOWED, 'content-type': 'text/plain' }, body: '1' });
    expect({ status: refused.status, origin: refused.headers.get('access-control-allow-origin') }).toEqual({ status: 415, origin: ALLOWED });
  });

  it('refuses the preflight and the POST of any other origin, with no CORS headers', async () => {
    const { url, records } = await startServer({ corsOrigin: [ALLOWED] });
    const response = await preflight(url, 'https://evil.example');
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
    expect(records).toContainEqual(expect.objectContaining({ level: 40, origin: 'https://evil.example', path: '/bus-message/room' }));

    const target = await connect('v4', url, '/bus');
    await target.request('JOIN', json({ room: 'room', name: 'target' }));
    const posted = await fetch(`${url}/bus-message/room`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: '1' });
    expect(posted.status).toBe(403);
    expect(posted.headers.get('access-control-allow-origin')).toBeNull();
    expect(await target.drain('EVENT')).toEqual([]);
  });

  it('with the default --cors-origin *, answers any origin', async () => {
    const response = await preflight(base, 'https://anywhere.example');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
  });
});

describe('refusals of POST /bus-message are logged', () => {
  it.for([
    { status: 415, contentType: 'text/plain', body: '{}', reason: /Content-Type/ },
    { status: 400, contentType: 'application/json', body: '', reason: /empty/ },
    { status: 400, contentType: 'application/json', body: '{"a": ', reason: /not valid JSON/ },
  ])('$status ($reason): a warning with the path and the reason, never the query', async ({ status, contentType, body, reason }) => {
    const room = unique('logged');
    const response = await fetch(`${base}/bus-message/${room}?token=s3cret`, { method: 'POST', headers: { 'content-type': contentType }, body });
    expect(response.status).toBe(status);
    const mine = records.filter((record) => String(record.path).includes(room));
    expect(mine).toEqual([expect.objectContaining({ level: 40, path: `/bus-message/${room}`, status, reason: expect.stringMatching(reason) })]);
    expect(JSON.stringify(mine)).not.toContain('s3cret');
  });

  it('a room id that is not valid percent-encoding: 400, logged with the path', async () => {
    const encoded = `${unique('bad')}%E0%A4%A`;
    const response = await fetch(`${base}/bus-message/${encoded}?k=s3cret`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '1' });
    expect(response.status).toBe(400);
    const mine = records.filter((record) => record.path === `/bus-message/${encoded}`);
    expect(mine).toEqual([expect.objectContaining({ level: 40, status: 400 })]);
    expect(JSON.stringify(mine)).not.toContain('s3cret');
  });
});
