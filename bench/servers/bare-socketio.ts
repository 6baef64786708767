/**
 * Baseline: a bare Socket.IO 4 server with the minimal NOTIFY handler, default options, and the
 * same HTTP publish endpoint written with plain `http`. `--redis host:port` links it to other
 * nodes through @socket.io/redis-adapter, as the service's cluster mode does.
 */
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Server, type Socket } from 'socket.io';
import { argsOf, exitOnSignal, minimalHttp, parsePayload } from './common';

const args = argsOf(process.argv.slice(2));
const port = Number(args.get('port') ?? 3000);

const httpServer = http.createServer(minimalHttp((room, message) => io.of('/bus').to(room).emit('EVENT', { sender: 'POST', room, message })));
const io = new Server(httpServer);

const redis = args.get('redis');
if (redis) {
  const [host, redisPort] = redis.split(':');
  const pub = new Redis({ host, port: Number(redisPort) });
  io.adapter(createAdapter(pub, pub.duplicate()));
}

for (const name of ['/layout', '/bus']) {
  io.of(name).on('connection', (socket: Socket) => {
    socket.on('JOIN', (payload: unknown, ack: unknown) => {
      const request = parsePayload(payload);
      if (!request || typeof request.room !== 'string') return;
      socket.data.name = request.name;
      void socket.join(request.room);
      if (typeof ack === 'function') ack();
    });
    socket.on('NOTIFY', (payload: unknown) => {
      const request = parsePayload(payload);
      if (!request || typeof request.room !== 'string') return;
      socket.to(request.room).emit('EVENT', { sender: socket.data.name ?? 'unknown', room: request.room, message: request.message });
    });
  });
}

httpServer.listen(port, '127.0.0.1');
exitOnSignal(() => io.close());
