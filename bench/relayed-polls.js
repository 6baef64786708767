#!/usr/bin/env node
'use strict';
/**
 * What relaying costs a long-polling client (cluster mode, no sticky sessions): round trips over
 * Engine.IO v4 long-polling to a session on node A, made directly to A and relayed through node B,
 * alternately, on one local redis-server. Each node is `dist/server.js` in a process of its own.
 * A round trip is a JOIN with an acknowledgement: the POST that carries it and the pending poll
 * that brings the ack back, from the POST's start to the ack's arrival; each path has its own
 * session and its own keep-alive connections.
 *
 *   npm run build && node bench/relayed-polls.js [--count 500]
 *
 * Needs redis-server on PATH. Writes bench/results/relayed-polls.json and prints it.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const COUNT = arg('count', 500);
const WARMUP = 50;
const ROOT = path.join(__dirname, '..');

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One HTTP request on `agent`; resolves with the body. */
function request(agent, port, method, query, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: '127.0.0.1', port, method, path: `/socket.io/?EIO=4&transport=polling${query}`, headers: body ? { 'content-type': 'text/plain;charset=UTF-8', 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} → ${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A polling session opened on `holder`, then driven through `via` (the same node, or another). */
async function session(holder, via) {
  // Two connections each: the pending poll's and the POSTs'.
  const polls = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const posts = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const open = await request(polls, holder, 'GET', '');
  const sid = JSON.parse(open.slice(1)).sid;
  const q = `&sid=${sid}`;
  await request(posts, via, 'POST', q, '40/layout,');
  const connected = await request(polls, via, 'GET', q);
  if (!connected.startsWith('40/layout,')) throw new Error(`no namespace connection: ${connected}`);
  let ack = 0;
  return {
    sid,
    /** One JOIN + ack round trip, in ms. */
    async roundTrip() {
      ack += 1;
      const started = process.hrtime.bigint();
      const answered = request(polls, via, 'GET', q);
      await request(posts, via, 'POST', q, `42/layout,${ack}["JOIN","{\\"room\\":\\"bench\\",\\"name\\":\\"n\\"}"]`);
      let text = await answered;
      // A server ping may come first: answered, and the ack awaited on the next poll.
      while (!text.includes(`43/layout,${ack}[]`)) {
        if (text.includes('2')) await request(posts, via, 'POST', q, '3');
        text = await request(polls, via, 'GET', q);
      }
      return Number(process.hrtime.bigint() - started) / 1e6;
    },
  };
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  return { median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99) };
};

async function main() {
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const children = [redis];
  try {
    await sleep(300);
    const ports = [await freePort(), await freePort()];
    for (const port of ports) {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'server.js'), '--host', '127.0.0.1', '-p', String(port), '--redis', `127.0.0.1:${redisPort}`, '--no-console', '--log-level', 'warn'], { stdio: 'inherit' });
      children.push(child);
    }
    for (const port of ports) {
      for (let i = 0; ; i++) {
        const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
        if (status === 200) break;
        if (i > 200) throw new Error(`node on ${port} not ready`);
        await sleep(50);
      }
    }
    const [a, b] = ports;
    const direct = await session(a, a);
    const relayed = await session(a, b);
    const times = { direct: [], relayed: [] };
    for (let i = 0; i < WARMUP + COUNT; i++) {
      // Alternated, so that drift on a shared machine touches both alike.
      const d = await direct.roundTrip();
      const r = await relayed.roundTrip();
      if (i >= WARMUP) {
        times.direct.push(d);
        times.relayed.push(r);
      }
    }
    const d = summary(times.direct);
    const r = summary(times.relayed);
    const result = {
      count: COUNT,
      direct: d,
      relayed: r,
      extra: { median: r.median - d.median, p90: r.p90 - d.p90 },
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}`,
      recordedAt: new Date().toISOString(),
    };
    fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'relayed-polls.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  } finally {
    for (const child of children.reverse()) child.kill('SIGKILL');
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
