#!/usr/bin/env node
'use strict';
/**
 * What a node takes in from Redis per NOTIFY, in each --redis-mode, when rooms do not span nodes:
 * N nodes (createServer from dist/index.js) on one local redis-server, each node with its own
 * room (two subscribers and a publisher on it), NOTIFYs sent to the rooms in turn, one at a time.
 * Each node reaches Redis through a TCP relay that counts the bytes Redis sends it (every
 * connection: publisher, subscribers, stream reader; replies, pushes and the readiness probe
 * included) and the messages among them: pub/sub pushes (message, pmessage, smessage) and
 * stream entries read (XREAD).
 *
 *   npm run build && node bench/redis-modes.js [--nodes 4] [--count 500] [--modes classic,sharded,streams] [--out FILE]
 *
 * Needs redis-server 7 on PATH. Prints one JSON object (and writes it to FILE, for table (f) of
 * bench/RESULTS.md: `--out bench/results/redis-modes.json`, then `node dist-bench/report.js`); per mode, the figures are per NOTIFY
 * sent anywhere in the cluster, averaged over the nodes (and the busiest node's).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const Redis = require('ioredis');
const { io: connect } = require('socket.io-client');
const { createServer } = require(path.join(__dirname, '..', 'dist', 'index.js'));

const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const NODES = Number(option('nodes', 4));
const COUNT = Number(option('count', 500));
const MODES = option('modes', 'classic,sharded,streams').split(',');
const OUT = option('out', undefined);

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

// A pub/sub push starts with its kind; a stream entry read is [id, [field, value, …]].
const PUSH = /\r\n\$(?:7\r\nmessage|8\r\npmessage|8\r\nsmessage)\r\n/g;
const ENTRY = /\*2\r\n\$\d+\r\n\d+-\d+\r\n\*\d+\r\n/g;

/** A relay to Redis that counts what Redis sends through it. */
async function countingRelay(redisPort) {
  const counts = { bytes: 0, messages: 0 };
  const sockets = new Set();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(redisPort, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound);
    // The end of the last chunk is read again with the next one, so that a marker split between
    // two chunks is found; a marker that ends within that old end was counted already.
    let tail = '';
    outbound.on('data', (chunk) => {
      counts.bytes += chunk.length;
      const text = tail + chunk.toString('latin1');
      for (const re of [PUSH, ENTRY]) {
        for (const match of text.matchAll(re)) if (match.index + match[0].length > tail.length) counts.messages += 1;
      }
      tail = text.slice(-63);
    });
    outbound.pipe(inbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
    };
    for (const socket of [inbound, outbound]) socket.on('error', drop).on('close', drop);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    counts,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function measure(mode, redisPort) {
  const nodes = [];
  for (let i = 0; i < NODES; i++) {
    const relay = await countingRelay(redisPort);
    const node = createServer({ host: '127.0.0.1', port: 0, redis: `127.0.0.1:${relay.port}`, redisMode: mode, console: false, metrics: false });
    const { port } = await node.listen();
    nodes.push({ node, relay, url: `http://127.0.0.1:${port}` });
  }
  for (const { url } of nodes) {
    for (;;) {
      const response = await fetch(`${url}/readyz`).catch(() => undefined);
      if (response?.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const clients = [];
  const open = async (url) => {
    const socket = connect(`${url}/layout`, { transports: ['websocket'], forceNew: true });
    clients.push(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    return socket;
  };
  let received = 0;
  const publishers = [];
  for (const [i, { url }] of nodes.entries()) {
    for (let s = 0; s < 2; s++) {
      const socket = await open(url);
      socket.on('EVENT', () => received++);
      await socket.emitWithAck('JOIN', JSON.stringify({ room: `room-${i}`, name: `sub-${s}` }));
    }
    publishers.push(await open(url));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = nodes.map(({ relay }) => ({ ...relay.counts }));
  const started = Date.now();
  const total = COUNT * NODES;
  for (let n = 0; n < total; n++) {
    const i = n % NODES;
    const target = received + 2;
    publishers[i].emit('NOTIFY', JSON.stringify({ room: `room-${i}`, message: `m${n}` }));
    while (received < target) await new Promise((resolve) => setImmediate(resolve));
  }
  // Whatever a node still reads (another node's stream entries) arrives within a moment.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const perNode = nodes.map(({ relay }, i) => ({
    bytesPerNotify: (relay.counts.bytes - before[i].bytes) / total,
    messagesPerNotify: (relay.counts.messages - before[i].messages) / total,
  }));
  const mean = (key) => perNode.reduce((sum, node) => sum + node[key], 0) / NODES;
  const result = {
    mode,
    notifies: total,
    ms: Date.now() - started,
    bytesPerNotifyPerNode: Math.round(mean('bytesPerNotify')),
    messagesPerNotifyPerNode: Number(mean('messagesPerNotify').toFixed(3)),
    busiestNodeBytesPerNotify: Math.round(Math.max(...perNode.map((node) => node.bytesPerNotify))),
  };
  for (const socket of clients) socket.close();
  for (const { node, relay } of nodes) {
    await node.close();
    await relay.close();
  }
  return result;
}

async function main() {
  const port = await freePort();
  const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const admin = new Redis({ port, host: '127.0.0.1', retryStrategy: (n) => (n > 50 ? null : 100) });
  admin.on('error', () => {});
  await admin.ping();
  const results = [];
  for (const mode of MODES) {
    await admin.flushall();
    results.push(await measure(mode, port));
  }
  const classic = results.find((result) => result.mode === 'classic');
  for (const result of results) if (classic) result.bytesVsClassic = Number((result.bytesPerNotifyPerNode / classic.bytesPerNotifyPerNode).toFixed(2));
  const text = `${JSON.stringify({ nodes: NODES, roomsPerNode: 1, subscribersPerRoom: 2, recordedAt: new Date().toISOString(), results }, null, 2)}\n`;
  process.stdout.write(text);
  if (OUT) fs.writeFileSync(OUT, text);
  admin.disconnect();
  redisServer.kill('SIGTERM');
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
