import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { roomsOf, type ConsoleState } from '../../src/console/state';
import { blockOtherOrigins, launchChromium, screenshot, skipBrowserSuite, type Chromium } from '../support/browser';
import { connect, json, sleep, startServer, type TestServer } from '../helpers';
import { RedisServer, redisMissing, waitReady } from '../support/redis';
import { roomKey } from '../../src/rooms';
import { REDIS_MODES } from '../../src/options';

const TOKEN = 'console-test-token-0123';
const CLIENT_TOKEN = 'client-test-token-4567';
const UI_TIMEOUT = 5000; // ms for the page to show something (it polls the state every second)

/** The console's state, read with the console token unless `init` says otherwise. */
async function state(url: string, init?: RequestInit): Promise<ConsoleState> {
  const response = await fetch(init ? `${url}/console/api/state` : `${url}/console/api/state?token=${TOKEN}`, init);
  expect(response.status).toBe(200);
  return (await response.json()) as ConsoleState;
}

/** Room name → member names (or ids), for one namespace of a state. */
function roomsIn(value: ConsoleState, nsp: string): Record<string, (string | null)[]> {
  const ns = value.namespaces.find((n) => n.name === nsp);
  return Object.fromEntries((ns?.rooms ?? []).map((room) => [room.name, room.members.map((m) => m.name)]));
}

describe('console API', () => {
  it('reports every namespace with its connections and its rooms with member names, without id-rooms', async () => {
    const { url } = await startServer({ consoleToken: TOKEN });
    const tv = await connect('v4', url, '/layout');
    const phone = await connect('v1', url, '/layout');
    await connect('v2', url, '/layout'); // connected, in no room
    await tv.request('JOIN', json({ room: 'ctx', name: 'tv' }));
    await tv.request('JOIN', json({ room: 'other', name: 'tv' }));
    await phone.request('JOIN', json({ room: 'ctx', name: 'phone' }));
    const bus = await connect('v4', url, '/bus');
    await bus.request('JOIN', json({ room: 'debug', name: 'tool' }));
    const peer = await connect('v4', url, '/lobby', { query: { lobbyId: 'L' } });
    const trigger = await connect('v4', url, '/trigger');
    await trigger.request('JOIN', 'timeline');

    const value = await state(url);
    expect(Date.parse(value.time)).not.toBeNaN();
    expect(value.namespaces.map((n) => [n.name, n.connections, n.partial])).toEqual([
      ['/layout', 3, false],
      ['/bus', 1, false],
      ['/lobby', 1, false],
      ['/trigger', 1, false],
    ]);
    expect(roomsIn(value, '/layout')).toEqual({ ctx: ['phone', 'tv'], other: ['tv'] });
    expect(roomsIn(value, '/bus')).toEqual({ debug: ['tool'] });
    expect(value.namespaces[2].rooms).toEqual([{ name: 'L', size: 1, members: [{ id: peer.publicId, name: null }] }]);
    expect(value.namespaces[3].rooms).toEqual([{ name: 'timeline', size: 1, members: [{ id: trigger.publicId, name: null }] }]);

    phone.close();
    await sleep(600); // past the shared read's lifetime
    expect(roomsIn(await state(url), '/layout')).toEqual({ ctx: ['tv'], other: ['tv'] });
  });

  it('groups sockets by room, sorted, leaving out each socket\'s own room', async () => {
    expect(
      await roomsOf([
        { rooms: new Set(['b', roomKey('r2'), roomKey('r1')]), data: { id: 'b', name: 'zed' } },
        { rooms: new Set(['a', roomKey('r1')]), data: { id: 'a', name: 'amy' } },
        { rooms: new Set(['c']), data: { id: 'c' } },
        { rooms: new Set(['d', roomKey('r1')]), data: { id: 'd' } },
      ]),
    ).toEqual([
      { name: 'r1', size: 3, members: [{ id: 'a', name: 'amy' }, { id: 'b', name: 'zed' }, { id: 'd', name: null }] },
      { name: 'r2', size: 1, members: [{ id: 'b', name: 'zed' }] },
    ]);
  });

  it('serves the page at /console/ (redirecting /console, keeping the query) with its own assets only', async () => {
    const { url } = await startServer({ path: '/ws/socket.io', consoleToken: TOKEN });
    const redirect = await fetch(`${url}/console?token=abc`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('console/?token=abc');

    const page = await fetch(`${url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="/ws/socket.io/socket.io.js" defer></script>');
    // Nothing absolute except the service's own Socket.IO client: no CDN, no other host.
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(references.sort()).toEqual(['/ws/socket.io/socket.io.js', 'console.css', 'console.js', 'favicon.svg', 'favicon.svg']);
    expect(html).not.toMatch(/https?:\/\//);

    for (const [asset, type] of [['console.js', /javascript/], ['console.css', /text\/css/], ['favicon.svg', /svg/]] as const) {
      const response = await fetch(`${url}/console/${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('content-type')).toMatch(type);
      expect(await response.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    expect((await fetch(`${url}/ws/socket.io/socket.io.js`)).status).toBe(200);
    expect((await fetch(`${url}/console/index.html`)).status).toBe(404);
  });

  it('is not served with console: false', async () => {
    const { url } = await startServer({ console: false });
    expect((await fetch(`${url}/console/`)).status).toBe(404);
    expect((await fetch(`${url}/console/api/state`)).status).toBe(404);
  });

  it('requires the console token on its API (Bearer or ?token=), not on the page', async () => {
    const { url, records } = await startServer({ consoleToken: TOKEN });
    const refused = await fetch(`${url}/console/api/state`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused.json()).toEqual({ error: 'unauthorized: the console token is required' });
    expect((await fetch(`${url}/console/api/state`, { headers: { authorization: 'Bearer nope-nope-nope' } })).status).toBe(401);
    expect((await fetch(`${url}/console/api/state?token=nope-nope-nope`)).status).toBe(401);
    await state(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const byQuery = await fetch(`${url}/console/api/state?token=${TOKEN}`);
    expect(byQuery.status).toBe(200);
    expect(records.some((r) => r.msg === 'refused console request without a valid client token')).toBe(true);
    expect((await fetch(`${url}/console/`)).status).toBe(200);
    // A token the operator chose is never logged.
    expect(JSON.stringify(records)).not.toContain(TOKEN);
  });

  it('is not open by default: a token is generated at start and the console URL with it logged once', async () => {
    const { url, service, records } = await startServer();
    expect((await fetch(`${url}/console/api/state`)).status).toBe(401);
    const token = service.consoleToken!;
    expect(token).toMatch(/^[\w-]{20,}$/);
    const logged = records.filter((r) => typeof r.url === 'string' && r.url.includes('/console/'));
    expect(logged).toEqual([expect.objectContaining({ level: 30, url: `http://127.0.0.1:${new URL(url).port}/console/?token=${token}` })]);
    expect((await fetch((logged[0].url as string).replace('/console/?', '/console/api/state?'))).status).toBe(200);
    // Another node gets another token.
    const other = await startServer();
    expect(other.service.consoleToken).not.toBe(token);
  });
});

describe.skipIf(redisMissing).each(REDIS_MODES)('console API in a cluster (%s)', (redisMode) => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(() => redis?.kill());

  it('shows the sockets of every node', async () => {
    const a = await startServer({ redis: redis.address, redisMode, consoleToken: TOKEN });
    const b = await startServer({ redis: redis.address, redisMode, consoleToken: TOKEN });
    await Promise.all([waitReady(a.url), waitReady(b.url)]);
    const onA = await connect('v4', a.url, '/layout');
    const onB = await connect('v1', b.url, '/layout');
    await onA.request('JOIN', json({ room: 'ctx', name: 'on-a' }));
    await onB.request('JOIN', json({ room: 'ctx', name: 'on-b' }));
    for (const node of [a, b]) {
      const value = await state(node.url);
      expect(value.namespaces[0]).toMatchObject({ name: '/layout', connections: 2, partial: false });
      expect(roomsIn(value, '/layout')).toEqual({ ctx: ['on-a', 'on-b'] });
    }
  });
});

// ---- the page, in headless Chromium ----

/** The member names the page shows for a room of a namespace. */
function shownMembers(page: Page, nsp: string, room: string): Promise<string[]> {
  return page
    .locator(`.ns[data-nsp="${nsp}"] .room[data-room="${room}"] .chip`)
    .evaluateAll((chips) => chips.map((chip) => chip.textContent ?? ''));
}

// Code run in the page is given as text: the project's TypeScript has no DOM typings.

/** Takes the keyboard focus off any field, so that keys reach the page's shortcuts. */
async function blur(page: Page): Promise<void> {
  await page.evaluate('document.activeElement && document.activeElement.blur()');
}

async function openConsole(context: BrowserContext, url: string, query = `?token=${TOKEN}`): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/401|Unauthorized/i.test(message.text())) errors.push(message.text());
  });
  await page.goto(`${url}/console${query}`);
  (page as Page & { errors?: string[] }).errors = errors;
  return page;
}

function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

async function joinFromPage(page: Page, nsp: string, room: string, name: string) {
  await page.locator(`input[name="nsp"][value="${nsp}"]`).check();
  await page.locator('#conn[data-state="ok"]').waitFor({ timeout: UI_TIMEOUT });
  await page.fill('#room', room);
  await page.fill('#name', name);
  await page.press('#name', 'Enter'); // keyboard: Enter joins
  await page.locator('#joined .chip', { hasText: room }).waitFor({ timeout: UI_TIMEOUT });
}

async function watchFromPage(page: Page, nsp: string, room: string) {
  await page.locator(`input[name="nsp"][value="${nsp}"]`).check();
  await page.locator('#conn[data-state="ok"]').waitFor({ timeout: UI_TIMEOUT });
  await page.fill('#room', room);
  await page.press('#room', 'Enter');
  await page.locator('#joined .chip', { hasText: room }).waitFor({ timeout: UI_TIMEOUT });
}

describe.skipIf(skipBrowserSuite('console.test.ts'))('console page in Chromium', () => {
  let chromium: Chromium;
  let server: TestServer;
  let context: BrowserContext;
  let outside: string[];
  beforeAll(async () => {
    chromium = await launchChromium();
  });
  afterAll(() => chromium?.close());
  beforeEach(async () => {
    server = await startServer({ consoleToken: TOKEN });
    context = await chromium.context({ viewport: { width: 1440, height: 900 } });
    outside = await blockOtherOrigins(context, [server.url]);
    return () => context.close();
  });

  it('joins a room, shows a Node client\'s NOTIFY, sends one back, and follows the members live', async () => {
    const tv = await connect('v4', server.url, '/layout');
    await tv.request('JOIN', json({ room: 'context-42', name: 'tv-livingroom' }));
    const phone = await connect('v1', server.url, '/layout');
    await phone.request('JOIN', json({ room: 'context-42', name: 'phone-anna' }));
    const kitchen = await connect('v2', server.url, '/layout');
    await kitchen.request('JOIN', json({ room: 'context-7', name: 'tv-kitchen' }));
    const timeline = await connect('v4', server.url, '/bus');
    await timeline.request('JOIN', json({ room: 'debug', name: 'timeline-service' }));
    const peer = await connect('v4', server.url, '/lobby', { query: { lobbyId: 'watch-party' } });
    const editor = await connect('v2', server.url, '/trigger');
    await editor.request('JOIN', 'timeline-9');

    const page = await openConsole(context, server.url);
    await joinFromPage(page, '/layout', 'context-42', 'dev-console');
    await expect.poll(() => shownMembers(page, '/layout', 'context-42'), { timeout: UI_TIMEOUT }).toEqual(['phone-anna', 'tv-livingroom']);
    await expect.poll(() => shownMembers(page, '/bus', 'debug'), { timeout: UI_TIMEOUT }).toEqual(['timeline-service']);
    // Nameless sockets (/lobby, /trigger) show as short ids.
    await expect.poll(() => shownMembers(page, '/lobby', 'watch-party'), { timeout: UI_TIMEOUT }).toEqual([`#${peer.publicId.slice(0, 8)}`]);
    await expect.poll(() => shownMembers(page, '/trigger', 'timeline-9'), { timeout: UI_TIMEOUT }).toEqual([`#${editor.publicId.slice(0, 8)}`]);
    // The page observes: it is neither listed nor counted.
    expect(await page.textContent('.ns[data-nsp="/layout"] .ns-count')).toBe('3 connections');

    // A Node client's NOTIFY appears on the page.
    tv.emit('NOTIFY', json({ room: 'context-42', message: { state: 'playing', position: 12.5, component: 'video-main' } }));
    const received = page.locator('.entry.in', { hasText: 'tv-livingroom' });
    await received.waitFor({ timeout: UI_TIMEOUT });
    expect(await received.locator('.room-tag').textContent()).toBe('context-42');
    expect(await received.locator('pre.json').textContent()).toBe(JSON.stringify({ state: 'playing', position: 12.5, component: 'video-main' }, null, 2));
    expect(await received.locator('.entry-time').textContent()).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    phone.emit('NOTIFY', json({ room: 'context-42', message: { layout: { regions: ['main', 'side'] }, ok: true, count: 3, none: null } }));
    await page.locator('.entry.in', { hasText: 'phone-anna' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await tv.nextValue('EVENT')).toMatchObject({ sender: 'phone-anna' });
    expect(await phone.nextValue('EVENT')).toMatchObject({ sender: 'tv-livingroom' });

    // A NOTIFY typed on the page (Ctrl+Enter) reaches the Node clients, from the page's name.
    await page.fill('#message', '{"volume": 0.8, "muted": false}');
    expect(await page.textContent('#json-status')).toBe('✓ Valid JSON · object, 2 keys');
    await page.press('#message', 'Control+Enter');
    const sent = { sender: 'dev-console', room: 'context-42', message: { volume: 0.8, muted: false } };
    expect(await tv.nextValue('EVENT')).toEqual(sent);
    expect(await phone.nextValue('EVENT')).toEqual(sent);
    await page.locator('.entry.out', { hasText: 'dev-console' }).waitFor({ timeout: UI_TIMEOUT });

    // CLIENTS, asked from the page, lists the room.
    await page.click('#clients');
    const clients = page.locator('.entry.clients');
    await clients.waitFor({ timeout: UI_TIMEOUT });
    expect(await clients.locator('.entry-text').textContent()).toBe('2 clients: tv-livingroom, phone-anna');
    tv.emit('CLIENTS', json({ room: 'context-42' }));
    expect(await tv.nextValue('CLIENTS')).toEqual({ room: 'context-42', clients: ['tv-livingroom', 'phone-anna'] });

    await blur(page);
    await screenshot(page, 'console.png');

    // A client leaves: the member list follows without a reload.
    phone.close();
    await expect.poll(() => shownMembers(page, '/layout', 'context-42'), { timeout: UI_TIMEOUT }).toEqual(['tv-livingroom']);
    await tv.request('LEAVE', json({ room: 'context-42' }));
    await expect.poll(() => shownMembers(page, '/layout', 'context-42'), { timeout: UI_TIMEOUT }).toEqual([]);
    expect(await page.textContent('.ns[data-nsp="/layout"] .ns-count')).toBe('2 connections');

    expect(outside).toEqual([]);
    expect(pageErrors(page)).toEqual([]);
  });

  it('watches /lobby and /trigger read-only, and no peer hears of it', async () => {
    const first = await connect('v2', server.url, '/lobby', { query: { lobbyId: 'watch-party' } });
    const firstId = (await first.nextValue('JOINED')) as string;
    await first.nextValue('PEERS');

    const page = await openConsole(context, server.url);
    await watchFromPage(page, '/lobby', 'watch-party');
    expect(await page.textContent('#join')).toBe('Watch');
    expect(await page.isVisible('#composer')).toBe(false);
    expect(await page.isVisible('#name')).toBe(false);
    const peers = page.locator('.entry.clients', { hasText: 'peer' });
    await peers.waitFor({ timeout: UI_TIMEOUT });
    expect(await peers.locator('.entry-text').textContent()).toBe(`1 peer: ${firstId}`);

    // A newcomer is announced to the page; the page is in nobody's PEERS and nobody hears of it.
    const second = await connect('v4', server.url, '/lobby', { query: { lobbyId: 'watch-party' } });
    const secondId = (await second.nextValue('JOINED')) as string;
    expect(await second.nextValue('PEERS')).toEqual([firstId]);
    expect(await first.nextValue('JOINED')).toBe(secondId);
    await page.locator('.entry.info', { hasText: secondId }).waitFor({ timeout: UI_TIMEOUT });
    first.emit('BROADCAST', { message: { cue: 'start' } });
    const message = page.locator('.entry.in', { hasText: firstId });
    await message.waitFor({ timeout: UI_TIMEOUT });
    expect(await message.locator('pre.json').textContent()).toBe(JSON.stringify({ cue: 'start' }, null, 2));

    // /trigger: the page joins the room and sees what the editor sends the timeline service.
    const timeline = await connect('v2', server.url, '/trigger');
    await timeline.request('JOIN', 'timeline-9');
    const editor = await connect('v1', server.url, '/trigger');
    await watchFromPage(page, '/trigger', 'timeline-9');
    editor.emit('BROADCAST_UPDATES', 'timeline-9', { clock: 12.5 });
    expect(await timeline.nextValue('UPDATES')).toEqual({ clock: 12.5 });
    const update = page.locator('.entry.in', { hasText: 'updates' });
    await update.waitFor({ timeout: UI_TIMEOUT });
    expect(await update.locator('pre.json').textContent()).toBe(JSON.stringify({ clock: 12.5 }, null, 2));

    // Leaving the lobby (by switching namespace) was as silent as entering it.
    expect(await first.drain('JOINED')).toEqual([]);
    expect(await first.drain('LEFT')).toEqual([]);
    expect(await second.drain('LEFT')).toEqual([]);
    expect(pageErrors(page)).toEqual([]);
  });

  it('validates the JSON before sending, POSTs to the bus, and pauses, filters and clears the list', async () => {
    const listener = await connect('v4', server.url, '/bus');
    await listener.request('JOIN', json({ room: 'bus-room', name: 'listener' }));
    const page = await openConsole(context, server.url);
    await joinFromPage(page, '/bus', 'bus-room', 'dev-console');

    // Invalid JSON: the error is shown, sending is disabled, nothing is sent.
    await page.fill('#message', '{"state": playing}');
    expect(await page.getAttribute('#json-status', 'class')).toContain('bad');
    expect(await page.textContent('#json-status')).toMatch(/^✕ .*JSON.*\(line 1, column \d+\)$|^✕ Unexpected token/);
    expect(await page.isDisabled('#send')).toBe(true);
    await page.press('#message', 'Control+Enter');
    await page.fill('#message', '');
    expect(await page.textContent('#json-status')).toMatch(/^✕ Message is empty/);
    expect(await listener.drain('EVENT')).toEqual([]);

    // Any JSON value is a message, a string included.
    await page.fill('#message', '"just text"');
    expect(await page.textContent('#json-status')).toBe('✓ Valid JSON · string');
    await page.click('#send');
    expect(await listener.nextValue('EVENT')).toEqual({ sender: 'dev-console', room: 'bus-room', message: 'just text' });

    // POST to the bus: the Node client and the page itself (in the room) get it from "POST".
    await page.locator('input[name="mode"][value="post"]').check();
    expect(await page.textContent('#send')).toBe('POST to bus');
    expect(await page.textContent('#target')).toContain('POST /bus-message/bus-room');
    await page.fill('#message', '{"posted": [1, 2, 3]}');
    await page.click('#send');
    expect(await listener.nextValue('EVENT')).toEqual({ sender: 'POST', room: 'bus-room', message: { posted: [1, 2, 3] } });
    await page.locator('.entry.post', { hasText: '200 OK' }).waitFor({ timeout: UI_TIMEOUT });
    await page.locator('.entry.in', { hasText: 'POST' }).waitFor({ timeout: UI_TIMEOUT });

    // Pause (keyboard: P) holds new entries back; resuming shows them.
    await blur(page);
    await page.keyboard.press('p');
    expect(await page.getAttribute('#pause', 'aria-pressed')).toBe('true');
    listener.emit('NOTIFY', json({ room: 'bus-room', message: { while: 'paused' } }));
    await page.locator('#paused-banner', { hasText: '1 new entry waits' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await page.locator('.entry', { hasText: 'paused' }).count()).toBe(0);
    await page.click('#pause');
    await page.locator('.entry.in', { hasText: 'listener' }).waitFor({ timeout: UI_TIMEOUT });

    // Filter (keyboard: /) narrows the list; Escape clears it; Clear empties the list.
    const total = await page.locator('.entry').count();
    await blur(page);
    await page.keyboard.press('/');
    expect(await page.evaluate('document.activeElement.id')).toBe('filter');
    await page.keyboard.type('paused');
    expect(await page.locator('.entry:visible').count()).toBe(1);
    expect(await page.textContent('#event-count')).toBe(`1 / ${total}`);
    await page.keyboard.press('Escape');
    expect(await page.locator('.entry:visible').count()).toBe(total);
    await page.click('#clear');
    expect(await page.locator('.entry').count()).toBe(0);
    expect(await page.isVisible('#log-empty')).toBe(true);

    expect(outside).toEqual([]);
    expect(pageErrors(page)).toEqual([]);
  });

  it('fits a phone-sized screen', async () => {
    const phoneContext = await chromium.context({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const blocked = await blockOtherOrigins(phoneContext, [server.url]);
    try {
      const tv = await connect('v4', server.url, '/layout');
      await tv.request('JOIN', json({ room: 'context-42', name: 'tv-livingroom' }));
      const page = await openConsole(phoneContext, server.url);
      await joinFromPage(page, '/layout', 'context-42', 'phone-console');
      tv.emit('NOTIFY', json({ room: 'context-42', message: { state: 'paused', position: 61.2 } }));
      await page.locator('.entry.in', { hasText: 'tv-livingroom' }).waitFor({ timeout: UI_TIMEOUT });
      await blur(page);
      await page.evaluate('window.scrollTo(0, 0)');
      // Nothing wider than the screen: no sideways scrolling.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      // Every panel, the namespaces one included, takes the full width of the column.
      const widths = (await page.evaluate("[...document.querySelectorAll('.panel')].map((panel) => Math.round(panel.getBoundingClientRect().width))")) as number[];
      expect(new Set(widths).size).toBe(1);
      // The room form comes first, the events right after it.
      const top = (selector: string) => page.locator(selector).evaluate((el) => el.getBoundingClientRect().top);
      expect(await top('.session')).toBeLessThan(await top('.events'));
      expect(await top('.events')).toBeLessThan(await top('.composer'));
      await screenshot(page, 'console-phone.png');
      expect(blocked).toEqual([]);
      expect(pageErrors(page)).toEqual([]);
    } finally {
      await phoneContext.close();
    }
  });

  it('asks for the console token, is refused without it, and works with it or with ?token=, also where clients need a token', async () => {
    const secured = await startServer({ clientToken: CLIENT_TOKEN, consoleToken: TOKEN });
    const securedContext = await chromium.context({ viewport: { width: 1280, height: 800 } });
    const blocked = await blockOtherOrigins(securedContext, [secured.url]);
    try {
      const page = await openConsole(securedContext, secured.url, '');
      // Without the token: the API answers 401 and the page's socket is refused; the page asks.
      await page.locator('#token-dialog[open]').waitFor({ timeout: UI_TIMEOUT });
      await page.locator('#conn[data-state="error"]', { hasText: 'Token required' }).waitFor({ timeout: UI_TIMEOUT });
      await page.locator('#live', { hasText: 'Token required' }).waitFor({ timeout: UI_TIMEOUT });
      expect(secured.records.some((r) => r.msg === 'refused connection without a valid client token' && r.nsp === '/layout')).toBe(true);
      expect(secured.records.some((r) => r.msg === 'refused console request without a valid client token')).toBe(true);
      await screenshot(page, 'console-token.png');

      // A wrong token is refused with a message; the right one connects.
      await page.fill('#token', 'not-the-token');
      await page.press('#token', 'Enter');
      await page.locator('#token-error', { hasText: 'refused' }).waitFor({ timeout: UI_TIMEOUT });
      await page.fill('#token', TOKEN);
      await page.press('#token', 'Enter');
      await page.locator('#conn[data-state="ok"]').waitFor({ timeout: UI_TIMEOUT });
      await page.locator('#live[data-state="ok"]').waitFor({ timeout: UI_TIMEOUT });
      expect(await page.isVisible('#token-dialog')).toBe(false);

      // ?token= works too, and leaves the address bar.
      const listener = await connect('v4', secured.url, '/layout', { query: { token: CLIENT_TOKEN } });
      await listener.request('JOIN', json({ room: 'secured', name: 'listener' }));
      const second = await openConsole(securedContext, secured.url, `?token=${TOKEN}`);
      expect(second.url()).toBe(`${secured.url}/console/`);
      await joinFromPage(second, '/layout', 'secured', 'with-token');
      await expect.poll(() => shownMembers(second, '/layout', 'secured'), { timeout: UI_TIMEOUT }).toEqual(['listener']);
      await second.fill('#message', '{"authorized": true}');
      await second.press('#message', 'Control+Enter');
      expect(await listener.nextValue('EVENT')).toEqual({ sender: 'with-token', room: 'secured', message: { authorized: true } });
      expect(blocked).toEqual([]);
    } finally {
      await securedContext.close();
    }
  });
});
