import { describe, expect, it } from 'vitest';
import { connect, freePort, json, sleep, startServer, type TestServer } from '../helpers';

/** Parses Prometheus text into `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    values.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return values;
}

const delta = (before: Map<string, number>, after: Map<string, number>, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

describe('GET /metrics', () => {
  it('moves by exactly the traffic that was sent', async () => {
    const server: TestServer = await startServer();
    const before = await scrape(server.url);
    expect(before.get('websocket_connected_sockets{namespace="/layout"}')).toBe(0);
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(before.has('process_resident_memory_bytes')).toBe(true);

    const subscribers = await Promise.all([connect('v1', server.url, '/layout'), connect('v2', server.url, '/layout'), connect('v4', server.url, '/layout')]);
    for (const [i, subscriber] of subscribers.entries()) await subscriber.request('JOIN', json({ room: `room-${i % 2}`, name: `s${i}` }));
    const publisher = await connect('v4', server.url, '/layout');
    for (let i = 0; i < 5; i++) publisher.emit('NOTIFY', json({ room: 'room-0', message: i }));
    publisher.emit('NOTIFY', '{bad json');
    publisher.emit('JOIN', json({ room: '', name: 'x' }));
    for (let i = 0; i < 5; i++) await subscribers[0].nextValue('EVENT');
    for (let i = 0; i < 5; i++) await subscribers[2].nextValue('EVENT');
    await publisher.nextValue('ERROR');
    await publisher.nextValue('ERROR');
    const bus = await connect('v4', server.url, '/bus');
    await bus.request('JOIN', json({ room: 'b', name: 'bus' }));
    const post = (body: string) => fetch(`${server.url}/bus-message/b`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('{"ok":1}')).status).toBe(200);
    expect((await post('{"ok":2}')).status).toBe(200);
    expect((await post('nope')).status).toBe(400);
    await bus.nextValue('EVENT');
    await bus.nextValue('EVENT');

    const during = await scrape(server.url);
    expect(during.get('websocket_connected_sockets{namespace="/layout"}')).toBe(4);
    expect(during.get('websocket_connected_sockets{namespace="/bus"}')).toBe(1);
    expect(during.get('websocket_rooms{namespace="/layout"}')).toBe(2);
    expect(delta(before, during, 'websocket_events_received_total{namespace="/layout",verb="JOIN"}')).toBe(4);
    expect(delta(before, during, 'websocket_events_received_total{namespace="/layout",verb="NOTIFY"}')).toBe(6);
    // 5 NOTIFYs to the two members of room-0, 2 ERROR replies to the publisher.
    expect(delta(before, during, 'websocket_events_delivered_total{namespace="/layout"}')).toBe(12);
    expect(delta(before, during, 'websocket_events_delivered_total{namespace="/bus"}')).toBe(2);
    expect(delta(before, during, 'websocket_refused_total{reason="invalid_payload"}')).toBe(1);
    expect(delta(before, during, 'websocket_refused_total{reason="invalid_id"}')).toBe(1);
    expect(delta(before, during, 'websocket_http_publishes_total{status="200"}')).toBe(2);
    expect(delta(before, during, 'websocket_http_publishes_total{status="400"}')).toBe(1);

    subscribers[1].close();
    await sleep(200);
    const after = await scrape(server.url);
    expect(after.get('websocket_connected_sockets{namespace="/layout"}')).toBe(3);
    expect(delta(before, after, 'websocket_disconnects_total{namespace="/layout",reason="client namespace disconnect"}')).toBe(1);
    expect(after.has('websocket_redis_connected')).toBe(false);
  });

  it('labels nothing with room names or socket ids', async () => {
    const server = await startServer();
    const client = await connect('v4', server.url, '/layout');
    await client.request('JOIN', json({ room: 'secret-room-name', name: 'secret-name' }));
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).not.toContain('secret-room-name');
    expect(text).not.toContain('secret-name');
    expect(text).not.toContain(client.id);
  });

  it('can be turned off, or served on a separate port', async () => {
    const off = await startServer({ metrics: false });
    expect((await fetch(`${off.url}/metrics`)).status).toBe(404);

    const apart = await startServer({ metricsPort: await freePort() });
    expect((await fetch(`${apart.url}/metrics`)).status).toBe(404);
    const port = (apart.service.metricsServer!.address() as { port: number }).port;
    const values = await scrape(`http://127.0.0.1:${port}`);
    expect(values.get('websocket_connected_sockets{namespace="/bus"}')).toBe(0);
  });
});
