/**
 * The HTTP endpoints (README, "The protocol" > "HTTP endpoints"): `GET /healthcheck`, and
 * `POST /bus-message/:roomId`, which publishes its JSON body to the `/bus` room as
 * `["EVENT", {sender: "POST", room, message}]` and refuses anything else with a short text reason
 * (400, 413, 415), publishing nothing.
 *
 * One server (maxPublishBody 2048) for the file, a fresh room and fresh clients per test, so the
 * tests run concurrently and each quiet period is paid once in parallel. (startServer() and
 * connect() close what they open after each test, so a shared server cannot use them.)
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createServer, type WebsocketService } from '../../src';
import { connectForTest, json, memoryLogger, type TestClient } from '../helpers';

const MAX_PUBLISH_BODY = 2048;

let service: WebsocketService;
let base: string;

beforeAll(async () => {
  const { logger } = memoryLogger();
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
    expect(reply).toEqual({ status: 200, text: 'OK', type: expect.stringMatching(/^text\/plain\b/) });
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
    expect({ status: reply.status, text: reply.text }).toEqual({ status: 200, text: 'OK' });
    expect(await target.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: { decoded: true } });
    const [literalEvents, spacedEvents] = await Promise.all([literal?.drain('EVENT') ?? [], spaced?.drain('EVENT') ?? []]);
    expect({ literalEvents, spacedEvents }).toEqual({ literalEvents: [], spacedEvents: [] });
  });

  it.for(['application/json; charset=utf-8', 'application/vnd.api+json'])('content type %s is JSON too', async (contentType, ctx) => {
    const room = unique('type');
    const target = await member(ctx, '/bus', room, 'target');
    const reply = await publish(room, '{"ok":1}', contentType);
    ctx.expect({ status: reply.status, text: reply.text }).toEqual({ status: 200, text: 'OK' });
    ctx.expect(await target.nextValue('EVENT')).toEqual({ sender: 'POST', room, message: { ok: 1 } });
  });

  it(`a body of exactly maxPublishBody (${MAX_PUBLISH_BODY} bytes) is accepted`, async (ctx) => {
    const room = unique('limit');
    const target = await member(ctx, '/bus', room, 'target');
    const text = 'x'.repeat(MAX_PUBLISH_BODY - 2);
    const body = JSON.stringify(text);
    ctx.expect(Buffer.byteLength(body)).toBe(MAX_PUBLISH_BODY);
    const reply = await publish(room, body, 'application/json');
    ctx.expect({ status: reply.status, text: reply.text }).toEqual({ status: 200, text: 'OK' });
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
