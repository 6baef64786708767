/**
 * Baseline and ceiling: a broadcast server written directly on `ws`, speaking just enough of
 * Engine.IO v4 / Socket.IO v4 for the load generator (open packet, namespace connect, JOIN with
 * ack, NOTIFY → EVENT, pong). Each broadcast encodes its frame once and sends it with
 * `ws.send()` to every member, the idiomatic `ws` broadcast. It sends no pings and keeps no
 * timers: nothing a Node WebSocket relay does costs less.
 */
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { argsOf, exitOnSignal, minimalHttp, parsePayload } from './common';

interface Peer {
  ws: WebSocket;
  id: string;
  /** Per namespace: the name given in JOIN and the rooms joined. */
  names: Map<string, string>;
  rooms: Set<string>;
}

const args = argsOf(process.argv.slice(2));
const port = Number(args.get('port') ?? 3000);
const rooms = new Map<string, Set<Peer>>();
let nextId = 0;

function broadcast(nsp: string, room: string, except: Peer | undefined, event: unknown[]) {
  const members = rooms.get(`${nsp}\0${room}`);
  if (!members) return;
  const frame = Buffer.from(`42${nsp},${JSON.stringify(event)}`);
  for (const peer of members) if (peer !== except) peer.ws.send(frame, { binary: false });
}

const httpServer = http.createServer(minimalHttp((room, message) => broadcast('/bus', room, undefined, ['EVENT', { sender: 'POST', room, message }])));
const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false, maxPayload: 1_000_000 });

wss.on('connection', (ws) => {
  const peer: Peer = { ws, id: `raw${nextId++}`, names: new Map(), rooms: new Set() };
  ws.send(`0${JSON.stringify({ sid: peer.id, upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 })}`);
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    if (text.startsWith('40')) {
      const nsp = text.slice(2).split(',')[0] || '/';
      ws.send(`40${nsp},${JSON.stringify({ sid: peer.id })}`);
      return;
    }
    if (!text.startsWith('42/')) return;
    const comma = text.indexOf(',');
    const nsp = text.slice(2, comma);
    let i = comma + 1;
    while (text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    const ackId = text.slice(comma + 1, i);
    let packet: unknown;
    try {
      packet = JSON.parse(text.slice(i));
    } catch {
      return;
    }
    if (!Array.isArray(packet)) return;
    const request = parsePayload(packet[1]);
    if (!request || typeof request.room !== 'string') return;
    if (packet[0] === 'JOIN') {
      const key = `${nsp}\0${request.room}`;
      let members = rooms.get(key);
      if (!members) rooms.set(key, (members = new Set()));
      members.add(peer);
      peer.rooms.add(key);
      peer.names.set(nsp, String(request.name));
      if (ackId) ws.send(`43${nsp},${ackId}[]`);
    } else if (packet[0] === 'NOTIFY') {
      broadcast(nsp, request.room, peer, ['EVENT', { sender: peer.names.get(nsp) ?? 'unknown', room: request.room, message: request.message }]);
    }
  });
  ws.on('close', () => {
    for (const key of peer.rooms) {
      const members = rooms.get(key);
      members?.delete(peer);
      if (members?.size === 0) rooms.delete(key);
    }
  });
});

httpServer.listen(port, '127.0.0.1');
exitOnSignal(() => wss.close());
