#!/usr/bin/env node
'use strict';
/**
 * Redis traffic per broadcast in cluster mode: how many PUBLISHes one NOTIFY costs, and how many
 * messages Redis then hands out, with N nodes (createServer from dist/index.js) on one local
 * redis-server. One subscriber on every node, the publisher on the last one, --count NOTIFYs to
 * one room, one at a time. Counts come from Redis itself (INFO commandstats, PUBSUB NUMPAT /
 * NUMSUB) and from an observer pattern-subscribed to the adapter's channels.
 *
 *   npm run build && node bench/redis-messages.js [--nodes 4] [--count 1000]
 *
 * Needs redis-server on PATH. Prints one JSON object.
 */
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const Redis = require('ioredis');
const { io: connect } = require('socket.io-client');
const { createServer } = require(path.join(__dirname, '..', 'dist', 'index.js'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const NODES = arg('nodes', 4);
const COUNT = arg('count', 1000);

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const publishCalls = async (redis) => Number(/cmdstat_publish:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);

async function main() {
  const port = await freePort();
  const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // Redis takes a moment to listen: ioredis retries until it does.
  const admin = new Redis({ port, host: '127.0.0.1', retryStrategy: (n) => (n > 50 ? null : 100) });
  admin.on('error', () => {});
  await admin.ping();
  const observer = new Redis({ port, host: '127.0.0.1' });
  let observed = 0;
  observer.on('pmessage', () => observed++);
  await observer.psubscribe('socket.io#*');

  const nodes = [];
  for (let i = 0; i < NODES; i++) {
    const node = createServer({ host: '127.0.0.1', port: 0, redis: `127.0.0.1:${port}`, console: false, metrics: false });
    const { port: nodePort } = await node.listen();
    nodes.push({ node, url: `http://127.0.0.1:${nodePort}` });
  }
  const clients = [];
  const open = async (url) => {
    const socket = connect(`${url}/layout`, { transports: ['websocket'], forceNew: true });
    clients.push(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    return socket;
  };
  let received = 0;
  for (const { url } of nodes) {
    const socket = await open(url);
    socket.on('EVENT', () => received++);
    await socket.emitWithAck('JOIN', JSON.stringify({ room: 'r', name: 'sub' }));
  }
  const publisher = await open(nodes[nodes.length - 1].url);
  // Node subscriber connections: those with pattern subscriptions, less the observer.
  const subscribers = (await admin.client('LIST')).split('\n').filter((line) => /\bpsub=[1-9]/.test(line)).length - 1;

  const publishesBefore = await publishCalls(admin);
  observed = 0;
  for (let i = 0; i < COUNT; i++) {
    const target = received + NODES;
    publisher.emit('NOTIFY', JSON.stringify({ room: 'r', message: `m${i}` }));
    while (received < target) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const publishes = (await publishCalls(admin)) - publishesBefore;
  const result = {
    nodes: NODES,
    notifies: COUNT,
    deliveriesPerNotify: received / COUNT,
    publishesPerNotify: publishes / COUNT,
    messagesOnAdapterChannelsPerNotify: observed / COUNT,
    // Each node's subscriber pattern-subscribes to every namespace's channels, so it gets what the observer gets.
    nodeSubscriberConnections: subscribers,
    redisMessagesToNodesPerNotify: (observed / COUNT) * subscribers,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

  for (const socket of clients) socket.close();
  for (const { node } of nodes) await node.close();
  observer.disconnect();
  admin.disconnect();
  redisServer.kill('SIGTERM');
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
