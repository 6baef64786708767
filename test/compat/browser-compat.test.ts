import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blockOtherOrigins, launchChromium, skipBrowserSuite, type Chromium } from '../support/browser';
import { connect, json, startServer, type TestServer } from '../helpers';

/**
 * DMApp pages live on other hosts than the service. A test page served from another origin (a
 * second port on 127.0.0.1) loads each generation's browser bundle in Chromium and runs JOIN (with
 * its ack), NOTIFY and EVENT against the service, over the transports the clients use.
 */

const MODULES = path.resolve(__dirname, '../..', 'node_modules');

interface Bundle {
  version: 'v1' | 'v2' | 'v4';
  /** Package folder in node_modules. */
  pkg: string;
  /** The browser bundle, inside the package. */
  file: string;
  /** The release the test is about. */
  release: RegExp;
}

const BUNDLES: Bundle[] = [
  { version: 'v1', pkg: 'socket.io-client-v1', file: 'dist/socket.io.js', release: /^1\.7\./ },
  { version: 'v2', pkg: 'socket.io-client-v2', file: 'dist/socket.io.js', release: /^2\./ },
  { version: 'v4', pkg: 'socket.io-client', file: 'dist/socket.io.min.js', release: /^4\./ },
];

const VARIANTS = [
  // Exactly as the 2-IMMERSE client API connects: long-polling first, then the WebSocket upgrade.
  { label: 'as DMApp components connect (polling, then upgrade)', options: { forceNew: true, multiplex: false }, transport: 'websocket' },
  { label: 'WebSocket only', options: { forceNew: true, multiplex: false, transports: ['websocket'] }, transport: 'websocket' },
  { label: 'long-polling only', options: { forceNew: true, multiplex: false, transports: ['polling'] }, transport: 'polling' },
];

/** The DMApp page: loads one bundle, then offers start() and notify() to the test. */
function harnessPage(version: string): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>DMApp component (${version})</title>
<script src="/bundles/${version}.js"></script>
<script>
  window.received = [];
  window.start = function (serviceUrl, options, room, name) {
    return new Promise(function (resolve, reject) {
      var socket = io(serviceUrl + '/layout', options);
      window.socket = socket;
      var timer = setTimeout(function () { reject(new Error('no JOIN ack within 5 s')); }, 5000);
      var fail = function (error) { clearTimeout(timer); reject(new Error('refused: ' + ((error && error.message) || error))); };
      socket.on('connect_error', fail);
      socket.on('error', fail);
      socket.on('EVENT', function (event) { window.received.push(event); });
      socket.on('connect', function () {
        socket.emit('JOIN', JSON.stringify({ room: room, name: name }), function () {
          clearTimeout(timer);
          resolve({ ackArguments: arguments.length });
        });
      });
    });
  };
  window.transport = function () { return window.socket.io.engine.transport.name; };
  window.notify = function (room, message) {
    window.socket.emit('NOTIFY', JSON.stringify({ room: room, message: message }));
  };
</script>
`;
}

/** A tiny static server on another port: the DMApp page and the client bundles, nothing else. */
async function startPageServer(): Promise<{ origin: string; close: () => Promise<void> }> {
  const bundles = new Map(BUNDLES.map((b) => [`/bundles/${b.version}.js`, fs.readFileSync(path.join(MODULES, b.pkg, b.file))]));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://page.invalid');
    const page = /^\/(v[124])\.html$/.exec(url.pathname);
    const bundle = bundles.get(url.pathname);
    if (page) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(harnessPage(page[1]));
    } else if (bundle) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Calls a function of the page with JSON arguments (page code is text: no DOM typings here). */
function call<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`${fn}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`) as Promise<T>;
}

describe('browser bundles', () => {
  it.each(BUNDLES)('$pkg is the release under test and ships $file', (bundle) => {
    const { version } = JSON.parse(fs.readFileSync(path.join(MODULES, bundle.pkg, 'package.json'), 'utf8')) as { version: string };
    expect(version).toMatch(bundle.release);
    expect(fs.existsSync(path.join(MODULES, bundle.pkg, bundle.file))).toBe(true);
  });
});

describe.skipIf(skipBrowserSuite('browser-compat.test.ts'))('DMApp pages on another origin, in Chromium', () => {
  let chromium: Chromium;
  let pages: { origin: string; close: () => Promise<void> };
  let context: BrowserContext;
  let service: TestServer;
  let origins: (string | undefined)[];
  let outside: string[];

  beforeAll(async () => {
    [chromium, pages] = await Promise.all([launchChromium(), startPageServer()]);
  });
  afterAll(async () => {
    await pages?.close();
    await chromium?.close();
  });
  beforeEach(async () => {
    service = await startServer();
    origins = [];
    service.service.io.engine.on('connection', (socket: { request: http.IncomingMessage }) => origins.push(socket.request.headers.origin));
    context = await chromium.context();
    outside = await blockOtherOrigins(context, [pages.origin, service.url]);
    return () => context.close();
  });

  describe.each(BUNDLES.map((bundle) => [`${bundle.pkg}/${bundle.file}`, bundle] as const))('%s', (_name, { version }) => {
    it.each(VARIANTS.map((variant) => [variant.label, variant] as const))('%s: JOIN with ack, NOTIFY and EVENT both ways', async (_label, { options, transport }) => {
      const room = `dmapp-${version}`;
      const layoutService = await connect('v4', service.url, '/layout');
      await layoutService.request('JOIN', json({ room, name: 'layout-service' }));

      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${pages.origin}/${version}.html`);
      expect(new URL(page.url()).origin).not.toBe(service.url);

      // JOIN: the ack arrives, with no arguments, as old clients expect.
      const joined = await call<{ ackArguments: number }>(page, 'start', service.url, options, room, `component-${version}`);
      expect(joined).toEqual({ ackArguments: 0 });
      // The handshake really came from the page's origin.
      expect(origins).toContain(pages.origin);

      // NOTIFY from a Node client → EVENT on the page.
      layoutService.emit('NOTIFY', json({ room, message: { state: 'playing', text: 'héllo ✓', n: [1, 2] } }));
      await page.waitForFunction('window.received.length > 0', undefined, { timeout: 5000 });
      expect(await page.evaluate('window.received')).toEqual([
        { sender: 'layout-service', room, message: { state: 'playing', text: 'héllo ✓', n: [1, 2] } },
      ]);

      // NOTIFY from the page → EVENT on the Node client, sent under the page's JOIN name.
      await call(page, 'notify', room, { from: version, ok: true });
      expect(await layoutService.nextValue('EVENT')).toEqual({ sender: `component-${version}`, room, message: { from: version, ok: true } });

      // The transport the variant asked for (after the upgrade, when there is one).
      await page.waitForFunction(`window.transport() === ${JSON.stringify(transport)}`, undefined, { timeout: 5000 });
      expect(errors).toEqual([]);
      expect(outside).toEqual([]);
      await page.close();
    });
  });

  it('with --cors-origin: a listed page origin connects, any other is refused', async () => {
    const listed = await startServer({ corsOrigin: [pages.origin] });
    const elsewhere = await startServer({ corsOrigin: ['https://dmapp.example'] });
    await context.unrouteAll();
    outside = await blockOtherOrigins(context, [pages.origin, listed.url, elsewhere.url]);
    const page = await context.newPage();
    await page.goto(`${pages.origin}/v1.html`);
    const options = { forceNew: true, multiplex: false, reconnection: false };
    expect(await call(page, 'start', listed.url, options, 'listed', 'component')).toEqual({ ackArguments: 0 });
    await page.goto(`${pages.origin}/v1.html`);
    await expect(call(page, 'start', elsewhere.url, options, 'elsewhere', 'component')).rejects.toThrow(/refused/);
    expect(outside).toEqual([]);
  });
});
