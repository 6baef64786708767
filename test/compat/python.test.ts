import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { cutSession } from '../../src/engine';
import { roomKey } from '../../src/rooms';
import { connect, sleep, startServer } from '../helpers';

/**
 * The real Python clients of /trigger: the timeline service's socketIO-client 0.6/0.7 (Engine.IO
 * v3, binary-framed long-polling) and python-socketio 5 (Engine.IO v4). Each script joins a room,
 * waits for UPDATES from a Node client and answers with BROADCAST_STATUS.
 */
const PYTHON = process.env.PYTHON3 ?? '/usr/bin/python3';
const IN_CI = process.env.CI === 'true';
const READY_TIMEOUT = 10_000;
const RESULT_TIMEOUT = 8_000;

interface PythonClient {
  label: string;
  module: string;
  script: string;
  /** Engine.IO protocol revision the client speaks. */
  protocol: 3 | 4;
  /** What the Node side sends as UPDATES. */
  data: unknown;
}

const TIMELINE_DATA = { step: 3, items: ['a', 'b'], nested: { ok: true, none: null }, ratio: 0.5 };

const CLIENTS: PythonClient[] = [
  {
    label: 'socketIO-client 0.6 (Engine.IO v3)',
    module: 'socketIO_client',
    script: 'trigger_socketio_client.py',
    protocol: 3,
    // ASCII only: socketIO-client 0.6.5 on Python 3 crashes on text outside Latin-1 received over
    // WebSocket (six.b() in transports.py encodes it as latin-1): a client bug, not the server's.
    data: TIMELINE_DATA,
  },
  {
    label: 'python-socketio 5 (Engine.IO v4)',
    module: 'socketio',
    script: 'trigger_python_socketio.py',
    protocol: 4,
    data: { ...TIMELINE_DATA, text: 'héllo ✓' },
  },
];

/** Why `module` cannot be used with the interpreter, or undefined when it can. */
function unavailable(module: string): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', `import ${module}`], { encoding: 'utf8', timeout: 15_000 });
  if (probe.error) return `${PYTHON} cannot run (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} cannot import ${module}: ${probe.stderr.trim().split('\n').pop()}`;
  return undefined;
}

const missing = new Map(CLIENTS.map((client) => [client.module, unavailable(client.module)]));
for (const [module, reason] of missing) {
  if (reason && !IN_CI) console.warn(`python.test.ts: skipping the ${module} test: ${reason} (set PYTHON3 to another interpreter)`);
}

type Child = ChildProcessByStdio<Writable, Readable, Readable>;
const children: Child[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/** A running script: its stdout lines as they come, its stderr, and its exit. */
function run(script: string, args: string[]) {
  const child = spawn(PYTHON, ['-u', path.join(__dirname, '../support/python', script), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  const lineWaiters: (() => void)[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts.map((line) => line.trim()).filter(Boolean));
    for (const wake of lineWaiters.splice(0)) wake();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const describeState = () => `stdout: ${JSON.stringify(lines)}\nstderr: ${stderr.slice(-2000)}`;

  /** Resolves with the first line that `match` accepts; rejects on exit or timeout. */
  const line = (match: (line: string) => boolean, what: string, timeout: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} printed no ${what} in ${timeout} ms\n${describeState()}`)), timeout);
      const check = () => {
        const found = lines.find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
          return true;
        }
        return false;
      };
      const wait = () => {
        if (!check()) lineWaiters.push(wait);
      };
      wait();
      void exited.then((code) => {
        if (!check()) {
          clearTimeout(timer);
          reject(new Error(`${script} exited (${code}) before printing ${what}\n${describeState()}`));
        }
      });
    });
  return { child, line, exited, describeState };
}

describe('/trigger with the real Python clients', () => {
  for (const client of CLIENTS) {
    const reason = missing.get(client.module);
    it.skipIf(reason !== undefined && !IN_CI)(`${client.label}: receives UPDATES and answers with BROADCAST_STATUS`, async () => {
      if (reason !== undefined) throw new Error(`CI=true but the Python client cannot run: ${reason}`);
      const server = await startServer();
      const connections: { protocol: number; transport: string }[] = [];
      server.service.io.engine.on('connection', (socket: { protocol: number; transport: { name: string } }) =>
        connections.push({ protocol: socket.protocol, transport: socket.transport.name }),
      );
      const room = `timeline-${client.module}`;
      const python = run(client.script, ['127.0.0.1', String(server.port), room]);
      await python.line((line) => line === 'READY', 'READY', READY_TIMEOUT);
      // Both start with long-polling (socketIO-client reads only binary-framed payloads there).
      expect(connections).toEqual([{ protocol: client.protocol, transport: 'polling' }]);

      const editor = await connect('v4', server.url, '/trigger');
      expect(await editor.request('JOIN', room)).toEqual([]);
      const { data } = client;
      editor.emit('BROADCAST_UPDATES', room, data);

      const printed = await python.line((line) => line.startsWith('{'), 'UPDATES line', RESULT_TIMEOUT);
      expect(JSON.parse(printed)).toEqual({ UPDATES: data });
      expect(await editor.nextValue('STATUS')).toEqual({ echo: data });
      // The sender is not echoed its own UPDATES, and the script reports success.
      expect(await editor.drain('UPDATES')).toEqual([]);
      const code = await Promise.race([python.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 5_000))]);
      expect(code, python.describeState()).toBe(0);
    });
  }
});

/** Keeps the event loop busy, as a node is while hundreds of clients reconnect after a restart. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('/trigger: socketIO-client reconnecting from an emit', () => {
  const reason = missing.get('socketIO_client');
  it.skipIf(reason !== undefined && !IN_CI)('sends CONNECT and JOIN back to back on the new session: it is joined and receives UPDATES', async () => {
    if (reason !== undefined) throw new Error(`CI=true but the Python client cannot run: ${reason}`);
    const server = await startServer();
    const { io } = server.service;
    const room = 'toTimelines-D';
    const python = run('trigger_reconnect_socketio_client.py', ['127.0.0.1', String(server.port), room]);
    await python.line((line) => line === 'READY', 'READY', READY_TIMEOUT);
    const [first] = io.of('/trigger').sockets.values();
    expect(first.rooms.has(roomKey(room))).toBe(true);

    // The new session: once its WebSocket probe is answered, the node is busy for a while, so the
    // frames the client sends next (upgrade, CONNECT, JOIN) are all read at once.
    const closes: string[] = [];
    io.engine.on('connection', (socket: { once(event: string, listener: (...args: unknown[]) => void): void }) => {
      socket.once('upgrading', () => busy(300));
      socket.once('close', (why) => closes.push(String(why)));
    });
    cutSession(first.conn);
    python.child.stdin.write('go\n');
    await python.line((line) => line === 'RECONNECTED', 'RECONNECTED', READY_TIMEOUT);

    const deadline = Date.now() + RESULT_TIMEOUT;
    while (io.of('/trigger').adapter.rooms.get(roomKey(room))?.size !== 1 && Date.now() < deadline) await sleep(20);
    expect(closes).toEqual([]);
    const editor = await connect('v4', server.url, '/trigger');
    editor.emit('BROADCAST_UPDATES', room, { step: 5 });
    const printed = await python.line((line) => line.startsWith('{'), 'UPDATES line', RESULT_TIMEOUT);
    expect(JSON.parse(printed)).toEqual({ UPDATES: { step: 5 } });
    const code = await Promise.race([python.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 5_000))]);
    expect(code, python.describeState()).toBe(0);
  });
});
