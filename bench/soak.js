#!/usr/bin/env node
'use strict';
/**
 * Soak test: the long version of test/hardening/leaks.test.ts.
 *
 * Runs a service node in this process (createServer from dist/index.js, loopback only) and churns
 * clients against it from a forked child process, wave after wave, for a set duration: sessions on
 * /layout, /bus, /lobby and /trigger, Engine.IO v3 and v4, WebSocket and long-polling, that join
 * rooms, publish, ask, leave, and go away politely, abruptly, by TCP reset, or thrown out by the
 * server for a malformed frame. Every --sample seconds the node's memory (RSS, heap) and its
 * session/socket/room counts are sampled. After the warm-up the clients pause and the node settles
 * (no session left, forced garbage collections) for the baseline sample; at the end the clients
 * stop, the node settles again, and the final sample is taken: both are measured at rest.
 *
 * Prints a table, writes bench/soak-result.json, and exits non-zero when RSS after the final
 * settle is more than --max-rss-ratio times the post-warm-up baseline, when any room, socket or
 * session is left behind, when the node logged an internal error, or when more than 0.5 % of
 * the client sessions failed.
 *
 *   npm run build && node bench/soak.js [--minutes 5] [--wave 200] [--sample 10] [--warmup S]
 *       [--settle 15] [--max-rss-ratio 1.5] [--out bench/soak-result.json] [--console]
 *
 * Bounded: at most --wave (≤ 2000) sessions at once, at most 240 minutes.
 */
const { fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

// ---------------------------------------------------------------------------------------------
// Options

const DEFAULTS = {
  minutes: 5,
  wave: 200,
  sample: 10,
  warmup: undefined, // seconds; default min(30, 20 % of the run)
  settle: 15,
  'max-rss-ratio': 1.5,
  out: path.join(__dirname, 'soak-result.json'),
  console: false,
  role: 'server',
  port: 0,
};

function parseArgs(argv) {
  const options = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(3, 23).join('\n').replace(/^ \* ?/gm, '') + '\n');
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match || !(match[1] in DEFAULTS)) fail(`unknown argument ${arg} (try --help)`);
    const name = match[1];
    if (typeof DEFAULTS[name] === 'boolean') {
      options[name] = match[2] === undefined ? true : match[2] !== 'false';
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined) fail(`--${name} needs a value`);
    options[name] = name === 'out' || name === 'role' ? value : Number(value);
    if (typeof options[name] === 'number' && !Number.isFinite(options[name])) fail(`--${name} must be a number, got ${value}`);
  }
  if (!(options.minutes > 0 && options.minutes <= 240)) fail('--minutes must be in (0, 240]');
  if (!(options.wave >= 1 && options.wave <= 2000)) fail('--wave must be in [1, 2000]');
  if (!(options.sample >= 1)) fail('--sample must be at least 1 second');
  if (!(options['max-rss-ratio'] > 1)) fail('--max-rss-ratio must be above 1');
  options.wave = Math.floor(options.wave);
  if (options.warmup === undefined) options.warmup = Math.min(30, options.minutes * 60 * 0.2);
  return options;
}

function fail(message) {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = (bytes) => bytes / 1024 / 1024;

// ---------------------------------------------------------------------------------------------
// Client role: churns sessions until told to stop

const EVENT_TIMEOUT = 5000;

class RawSession {
  constructor(ws, eio) {
    this.ws = ws;
    this.eio = eio;
    this.frames = [];
    this.waiters = [];
    this.ackIds = 0;
    ws.on('message', (data, isBinary) => this.push(isBinary ? data : data.toString()));
    ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      ws.on('close', () => {
        for (const waiter of this.waiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error('connection closed'));
        }
        resolve();
      }),
    );
  }

  static async open(WebSocket, port, eio, query = '') {
    const session = new RawSession(new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=${eio}&transport=websocket${query}`), eio);
    const open = await session.next((f) => typeof f === 'string' && f.startsWith('0{'), 'open packet');
    session.sid = JSON.parse(open.slice(1)).sid;
    if (eio === 3) await session.next((f) => f === '40', 'v3 main namespace');
    return session;
  }

  push(frame) {
    if (this.eio === 4 && frame === '2') return this.ws.send('3');
    const index = this.waiters.findIndex((w) => w.match(frame));
    if (index < 0) {
      if (this.frames.length < 100) this.frames.push(frame);
      return;
    }
    const [waiter] = this.waiters.splice(index, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(frame);
  }

  next(match, what) {
    const index = this.frames.findIndex(match);
    if (index >= 0) return Promise.resolve(this.frames.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no ${what} in ${EVENT_TIMEOUT} ms`));
      }, EVENT_TIMEOUT);
      this.waiters.push({ match, resolve, reject, timer });
    });
  }

  send(frame) {
    this.ws.send(frame);
  }

  connectNsp(nsp) {
    this.send(`40${nsp},`);
    return this.next((f) => typeof f === 'string' && (f.startsWith(`40${nsp},`) || f.startsWith(`44${nsp},`)), `${nsp} connect reply`);
  }

  emit(nsp, ...args) {
    this.send(`42${nsp},${JSON.stringify(args)}`);
  }

  async request(nsp, ...args) {
    const id = this.ackIds++;
    this.send(`42${nsp},${id}${JSON.stringify(args)}`);
    const prefix = `43${nsp},${id}[`;
    const reply = await this.next((f) => typeof f === 'string' && f.startsWith(prefix), `ack of ${args[0]}`);
    const result = JSON.parse(reply.slice(prefix.length - 1));
    if (result.length !== 0) throw new Error(`${args[0]} refused: ${JSON.stringify(result)}`);
    return result;
  }

  nextEvent(nsp, name) {
    return this.next((f) => typeof f === 'string' && f.startsWith(`42${nsp},[${JSON.stringify(name)}`), `${name} on ${nsp}`);
  }
}

function httpRequest(port, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method, path: urlPath, agent: false, timeout: EVENT_TIMEOUT, headers: body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, text }));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

const ENDINGS = ['disconnect', 'close', 'terminate', 'reset'];

async function end(session, how, namespaces) {
  if (how === 'disconnect') {
    for (const nsp of namespaces) session.send(`41${nsp},`);
    session.ws.close();
  } else if (how === 'close') session.ws.close();
  else if (how === 'terminate') session.ws.terminate();
  else session.ws._socket.resetAndDestroy();
  await session.closed;
}

function sessionKinds(lib, port) {
  const { WebSocket, ioV4 } = lib;
  const open = (eio, query) => RawSession.open(WebSocket, port, eio, query);
  return [
    // /layout and /bus: JOIN 3 rooms each, NOTIFY, CLIENTS, LEAVE one.
    async function rooms(i, w, release, eio = i % 3 ? 4 : 3) {
      const session = await open(eio);
      const namespaces = eio === 3 ? ['/layout'] : ['/layout', '/bus'];
      for (const nsp of namespaces) {
        await session.connectNsp(nsp);
        for (let r = 0; r < 3; r++) await session.request(nsp, 'JOIN', JSON.stringify({ room: `w${w}-room${(i + r) % 10}`, name: `n${i}` }));
        session.emit(nsp, 'NOTIFY', JSON.stringify({ room: `w${w}-room${i % 10}`, message: { from: i, pad: 'x'.repeat(200) } }));
        session.emit(nsp, 'CLIENTS', { room: `w${w}-room${i % 10}` });
        await session.nextEvent(nsp, 'CLIENTS');
        await session.request(nsp, 'LEAVE', { room: `w${w}-room${(i + 1) % 10}` });
      }
      await release;
      await end(session, ENDINGS[i % 4], namespaces);
    },
    // /lobby?lobbyId: PEERS, BROADCAST, LEAVE and JOIN another lobby.
    async function lobby(i, w, release) {
      const session = await open(4, `&lobbyId=w${w}-lobby${i % 5}`);
      await session.connectNsp('/lobby');
      await session.nextEvent('/lobby', 'PEERS');
      session.emit('/lobby', 'BROADCAST', { message: i });
      await session.nextEvent('/lobby', 'MESSAGE');
      if (i % 2) {
        await session.request('/lobby', 'LEAVE', `w${w}-lobby${i % 5}`);
        await session.request('/lobby', 'JOIN', `w${w}-other${i % 3}`);
      }
      await release;
      await end(session, ENDINGS[(i >> 1) % 4], ['/lobby']);
    },
    // /trigger: JOIN two rooms, BROADCAST_STATUS, LEAVE one.
    async function trigger(i, w, release) {
      const session = await open(i % 2 ? 3 : 4);
      await session.connectNsp('/trigger');
      await session.request('/trigger', 'JOIN', `w${w}-t${i % 7}`);
      await session.request('/trigger', 'JOIN', `w${w}-t${(i + 1) % 7}`);
      session.emit('/trigger', 'BROADCAST_STATUS', `w${w}-t${i % 7}`, { status: i });
      await session.request('/trigger', 'LEAVE', `w${w}-t${(i + 1) % 7}`);
      await release;
      await end(session, ENDINGS[(i >> 2) % 4], ['/trigger']);
    },
    // Thrown out by the server for a malformed frame, after refused namespaces.
    async function hostile(i, w, release) {
      const session = await open(4);
      await session.connectNsp('/layout');
      await session.request('/layout', 'JOIN', { room: `w${w}-room${i % 10}`, name: `bad${i}` });
      await session.connectNsp('/nope');
      await session.connectNsp('/lobby');
      await release;
      session.send(['42/layout,[]', '451-/layout,["NOTIFY",{"_placeholder":true,"num":"x"}]', '9'][i % 3]);
      if (i % 3 === 1) session.ws.send(Buffer.from([1]));
      await session.closed;
    },
    // socket.io-client 4 over WebSocket.
    async function library(i, w, release) {
      const socket = ioV4(`http://127.0.0.1:${port}/layout`, { forceNew: true, multiplex: false, reconnection: false, transports: ['websocket'] });
      try {
        await new Promise((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        await socket.timeout(EVENT_TIMEOUT).emitWithAck('JOIN', JSON.stringify({ room: `w${w}-room${i % 10}`, name: `lib${i}` }));
        socket.emit('NOTIFY', JSON.stringify({ room: `w${w}-room${(i + 3) % 10}`, message: 'from the library' }));
        await release;
      } finally {
        socket.disconnect();
      }
    },
    // Long-polling, v4 and v3 (base64 framing): /bus, JOIN, then the Engine.IO close packet.
    async function polling(i, w, release) {
      const eio = i % 2 ? 3 : 4;
      const handshake = await httpRequest(port, 'GET', `/socket.io/?EIO=${eio}&transport=polling${eio === 3 ? '&b64=1' : ''}`);
      const sid = /"sid":"([^"]+)"/.exec(handshake.text)?.[1];
      if (!sid) throw new Error(`polling handshake failed: ${handshake.status} ${handshake.text.slice(0, 80)}`);
      const urlPath = `/socket.io/?EIO=${eio}&transport=polling&sid=${sid}${eio === 3 ? '&b64=1' : ''}`;
      const frame = (text) => (eio === 3 ? `${text.length}:${text}` : text);
      const post = async (text) => {
        const { status, text: reply } = await httpRequest(port, 'POST', urlPath, frame(text));
        if (reply !== 'ok') throw new Error(`polling POST answered ${status} ${reply}`);
      };
      const pollFor = async (needle) => {
        for (let polls = 0; polls < 5; polls++) if ((await httpRequest(port, 'GET', urlPath)).text.includes(needle)) return;
        throw new Error(`polling: no ${needle}`);
      };
      await post('40/bus,');
      await pollFor('40/bus,');
      await post(`42/bus,0${JSON.stringify(['JOIN', { room: `w${w}-room${i % 10}`, name: `poll${i}` }])}`);
      await pollFor('43/bus,0[]');
      await release;
      await post('1');
    },
  ];
}

async function clientRole(options) {
  const lib = { WebSocket: require('ws'), ioV4: require('socket.io-client').io };
  const [rooms, lobby, trigger, hostile, library, polling] = sessionKinds(lib, options.port);
  // Mix per 10 sessions: 4 rooms, 2 lobby, 2 trigger, 1 hostile, 1 library or polling.
  const mix = [rooms, lobby, trigger, rooms, hostile, rooms, lobby, trigger, (i, w, r) => (i % 2 ? library(i, w, r) : polling(i, w, r)), rooms];
  let stopping = false;
  let paused;
  let resume = () => {};
  process.on('message', (message) => {
    if (message === 'stop') stopping = true;
    if (message === 'pause') paused = new Promise((resolve) => (resume = resolve));
    if (message === 'resume') {
      paused = undefined;
      resume();
    }
  });
  process.on('disconnect', () => {
    stopping = true;
  });
  const stats = { waves: 0, sessions: 0, failures: 0, firstFailures: [] };
  for (let w = 0; !stopping; w++) {
    let releaseAll;
    const release = new Promise((resolve) => (releaseAll = resolve));
    const sessions = Array.from({ length: options.wave }, (_, i) =>
      mix[i % mix.length](i, w, release).then(
        () => {
          stats.sessions++;
        },
        (error) => {
          stats.failures++;
          if (stats.firstFailures.length < 10) stats.firstFailures.push(`wave ${w} #${i} (${mix[i % mix.length].name || 'library/polling'}): ${error.message}`);
        },
      ),
    );
    // Everyone does its work, holds on a moment (rooms shared), then all go away together.
    await sleep(250);
    releaseAll();
    await Promise.all(sessions);
    stats.waves++;
    if (process.send) process.send({ type: 'progress', stats });
    if (paused && !stopping) {
      process.send?.({ type: 'paused', stats });
      await paused;
    }
  }
  if (process.send) process.send({ type: 'done', stats }, () => process.exit(0));
  else process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Server role: the node under test, the sampler and the verdict

const NAMESPACES = ['/', '/layout', '/bus', '/lobby', '/trigger'];

async function serverRole(options) {
  if (typeof global.gc !== 'function') {
    // Forced collections make the settled figures comparable: re-run with them available.
    const child = spawn(process.execPath, ['--expose-gc', __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    return;
  }
  let createServer;
  try {
    ({ createServer } = require(path.join(__dirname, '..', 'dist', 'index.js')));
  } catch (error) {
    fail(`cannot load dist/index.js (${error.message}): run \`npm run build\` first`);
  }
  const pino = require('pino');

  const logCounts = {};
  const internalErrors = [];
  const logger = pino({ level: 'warn' }, {
    write(line) {
      const record = JSON.parse(line);
      const key = `${record.level >= 50 ? 'ERROR' : 'WARN'} ${record.msg}`;
      logCounts[key] = (logCounts[key] ?? 0) + 1;
      if (record.level >= 50 && internalErrors.length < 20) internalErrors.push(record);
    },
  });
  const service = createServer({ port: 0, host: '127.0.0.1', console: options.console }, { logger });
  const { port } = await service.listen();
  const { io } = service;
  process.stdout.write(
    `soak: node on 127.0.0.1:${port}; ${options.minutes} min, waves of ${options.wave}, sample every ${options.sample} s, ` +
      `warm-up ${options.warmup} s, settle ${options.settle} s\n`,
  );

  const started = Date.now();
  let clientStats = { waves: 0, sessions: 0, failures: 0, firstFailures: [] };
  const client = fork(__filename, ['--role', 'client', '--port', String(port), '--wave', String(options.wave)], { stdio: 'inherit' });
  let onPaused = () => {};
  const clientDone = new Promise((resolve) => {
    client.on('message', (message) => {
      clientStats = message.stats;
      if (message.type === 'paused') onPaused();
      if (message.type === 'done') resolve('done');
    });
    client.on('exit', (code) => resolve(`exited ${code}`));
  });

  const counts = () => {
    let sockets = 0;
    let rooms = 0;
    for (const name of NAMESPACES) {
      sockets += io.of(name).sockets.size;
      rooms += io.of(name).adapter.rooms.size;
    }
    return { engineClients: io.engine.clientsCount, sockets, rooms };
  };
  const samples = [];
  const sample = (phase) => {
    const memory = process.memoryUsage();
    const entry = {
      t: Math.round((Date.now() - started) / 1000),
      phase,
      rssMB: +MB(memory.rss).toFixed(1),
      heapUsedMB: +MB(memory.heapUsed).toFixed(1),
      heapTotalMB: +MB(memory.heapTotal).toFixed(1),
      externalMB: +MB(memory.external).toFixed(1),
      arrayBuffersMB: +MB(memory.arrayBuffers).toFixed(1),
      ...counts(),
      sessionsDone: clientStats.sessions,
      failures: clientStats.failures,
    };
    samples.push(entry);
    process.stdout.write(`  ${formatRow(entry)}\n`);
    return entry;
  };
  /** Baseline at rest: the clients finish their wave and wait, the node settles, then churn resumes. */
  const takeBaseline = async () => {
    const paused = new Promise((resolve) => (onPaused = resolve));
    client.send('pause');
    await Promise.race([paused, clientDone]);
    const deadline = Date.now() + 30_000;
    while (counts().engineClients > 0 && Date.now() < deadline) await sleep(100);
    await settle(Math.min(options.settle, 5));
    const entry = sample('baseline');
    client.send('resume');
    return entry;
  };
  const settle = async (seconds) => {
    global.gc();
    await sleep(seconds * 1000);
    global.gc();
    await sleep(100);
    global.gc();
  };

  process.stdout.write(`  ${formatHeader()}\n`);
  sample('start');
  const runMs = options.minutes * 60_000;
  const warmupAt = started + options.warmup * 1000;
  let baseline;
  let nextSample = started + options.sample * 1000;
  while (Date.now() < started + runMs) {
    const now = Date.now();
    if (!baseline && now >= warmupAt) {
      baseline = await takeBaseline();
      nextSample = Date.now() + options.sample * 1000;
    } else if (now >= nextSample) {
      sample('churn');
      nextSample += options.sample * 1000;
    }
    await sleep(Math.max(10, Math.min(nextSample, baseline ? Infinity : warmupAt, started + runMs) - Date.now()));
  }
  baseline ??= await takeBaseline();

  client.send('stop');
  const clientEnd = await Promise.race([clientDone, sleep(60_000).then(() => 'timed out')]);
  if (clientEnd === 'timed out') client.kill('SIGKILL');
  const drainDeadline = Date.now() + 30_000;
  while (counts().engineClients > 0 && Date.now() < drainDeadline) await sleep(100);
  await settle(options.settle);
  const final = sample('final');
  const left = counts();

  const ratio = final.rssMB / baseline.rssMB;
  const reasons = [];
  if (ratio > options['max-rss-ratio']) reasons.push(`RSS after settling is ${ratio.toFixed(2)}x the baseline (limit ${options['max-rss-ratio']}x)`);
  if (left.engineClients || left.sockets || left.rooms) reasons.push(`left behind: ${JSON.stringify(left)}`);
  if (internalErrors.length) reasons.push(`${internalErrors.length} internal error(s) logged`);
  if (clientEnd !== 'done') reasons.push(`client process ${clientEnd}`);
  const attempted = clientStats.sessions + clientStats.failures;
  if (attempted === 0) reasons.push('no client session ran');
  else if (clientStats.failures / attempted > 0.005) reasons.push(`${clientStats.failures} of ${attempted} client sessions failed`);

  const result = {
    pass: reasons.length === 0,
    reasons,
    options: { minutes: options.minutes, wave: options.wave, sampleSeconds: options.sample, warmupSeconds: options.warmup, settleSeconds: options.settle, maxRssRatio: options['max-rss-ratio'], console: options.console },
    node: process.version,
    startedAt: new Date(started).toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    baseline,
    final,
    rssRatio: +ratio.toFixed(3),
    heapGrowthMB: +(final.heapUsedMB - baseline.heapUsedMB).toFixed(1),
    peakRssMB: Math.max(...samples.map((s) => s.rssMB)),
    leftBehind: left,
    client: { ...clientStats, sessionsPerSecond: +(attempted / (runMs / 1000)).toFixed(1) },
    logCounts,
    internalErrors,
    samples,
  };
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, JSON.stringify(result, null, 2) + '\n');

  process.stdout.write(
    `\nsoak: ${attempted} sessions (${clientStats.failures} failed) in ${clientStats.waves} waves; ` +
      `RSS ${baseline.rssMB} MB baseline -> ${final.rssMB} MB final (${ratio.toFixed(2)}x, peak ${result.peakRssMB} MB); ` +
      `heapUsed ${baseline.heapUsedMB} -> ${final.heapUsedMB} MB\n`,
  );
  for (const line of clientStats.firstFailures) process.stdout.write(`  failure: ${line}\n`);
  for (const [key, count] of Object.entries(logCounts)) process.stdout.write(`  log: ${count} x ${key}\n`);
  process.stdout.write(`soak: ${result.pass ? 'PASS' : `FAIL: ${reasons.join('; ')}`} (written to ${path.relative(process.cwd(), options.out)})\n`);
  await service.close();
  process.exit(result.pass ? 0 : 1);
}

const COLUMNS = [
  ['t', 't(s)', 6],
  ['phase', 'phase', 9],
  ['rssMB', 'rss MB', 8],
  ['heapUsedMB', 'heap MB', 8],
  ['heapTotalMB', 'heapTot', 8],
  ['externalMB', 'ext MB', 7],
  ['engineClients', 'clients', 8],
  ['sockets', 'sockets', 8],
  ['rooms', 'rooms', 7],
  ['sessionsDone', 'sessions', 9],
  ['failures', 'failed', 7],
];
const formatHeader = () => COLUMNS.map(([, title, width]) => title.padStart(width)).join(' ');
const formatRow = (entry) => COLUMNS.map(([key, , width]) => String(entry[key]).padStart(width)).join(' ');

const options = parseArgs(process.argv.slice(2));
const main = options.role === 'client' ? clientRole(options) : serverRole(options);
main.catch((error) => {
  process.stderr.write(`soak: ${error.stack ?? error}\n`);
  process.exit(1);
});
