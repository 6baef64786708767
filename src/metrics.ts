import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Namespace, Server, Socket } from 'socket.io';
import type { Readiness, RedisLink } from './cluster';
import { onOutgoingPacket, type RecoveryStats } from './engine';
import type { RefusalMetric } from './errors';

/** What a node relays to the node holding the session (see forwarding.ts): a poll, a POST or a WebSocket upgrade. */
export type ForwardKind = 'poll' | 'post' | 'upgrade';

/** What the service reports as it runs. Every call is a counter bump; nothing allocates per message. */
export interface Metrics {
  /** A counter for one verb on one namespace, resolved once per socket. */
  received(nsp: string, verb: string): () => void;
  refused(reason: RefusalMetric): void;
  httpPublish(status: number): void;
  /** A request relayed to the node holding its session. */
  forwarded(kind: ForwardKind): void;
  /** A relayed request that failed on the way (the other node unreachable, silent, or gone). */
  forwardFailed(kind: ForwardKind): void;
}

/** Serves a registry in Prometheus' text format. */
export function metricsHandler(registry: Registry): RequestHandler {
  return (_req, res, next) => {
    registry.metrics().then((text) => res.type(registry.contentType).send(text), next);
  };
}

/** Metrics that count nothing, for a node run with `--no-metrics`. */
export const NO_METRICS: Metrics = { received: () => () => {}, refused: () => {}, httpPublish: () => {}, forwarded: () => {}, forwardFailed: () => {} };

/** The Prometheus side: the registry to serve and the hooks that feed it. */
export interface PrometheusMetrics extends Metrics {
  registry: Registry;
  /** Counts connections, deliveries and disconnections of `nsp`. */
  watch(nsp: Namespace): void;
}

/**
 * Builds the metrics of one node in a registry of its own (several nodes may share a process,
 * as in the tests). Connected sockets and rooms are read when scraped, not kept up to date.
 */
export function createMetrics(io: Server, readiness: () => Readiness, cluster?: Pick<RedisLink, 'lostPublishes'>, recovery?: RecoveryStats): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const namespaces: Namespace[] = [];

  new Gauge({
    name: 'websocket_connected_sockets',
    help: 'Sockets connected to this node, per namespace',
    labelNames: ['namespace'],
    registers: [registry],
    collect() {
      for (const nsp of namespaces) this.set({ namespace: nsp.name }, nsp.sockets.size);
    },
  });
  new Gauge({
    name: 'websocket_rooms',
    help: 'Rooms with members on this node, per namespace (sockets\' own id-rooms not counted)',
    labelNames: ['namespace'],
    registers: [registry],
    collect() {
      for (const nsp of namespaces) this.set({ namespace: nsp.name }, nsp.adapter.rooms.size - nsp.adapter.sids.size);
    },
  });
  const engineClients = new Gauge({
    name: 'websocket_engine_clients',
    help: 'Engine.IO connections to this node',
    registers: [registry],
    collect() {
      engineClients.set(io.engine.clientsCount);
    },
  });
  const received = new Counter({
    name: 'websocket_events_received_total',
    help: 'Events received from clients, per namespace and verb',
    labelNames: ['namespace', 'verb'],
    registers: [registry],
  });
  // Deliveries happen once per recipient socket: a plain number is bumped on that path and
  // handed to the counter when scraped.
  const deliveries = new Map<string, { count: number }>();
  const delivered = new Counter({
    name: 'websocket_events_delivered_total',
    help: 'Events sent to client sockets, per namespace',
    labelNames: ['namespace'],
    registers: [registry],
    collect() {
      for (const [namespace, tally] of deliveries) {
        delivered.inc({ namespace }, tally.count);
        tally.count = 0;
      }
    },
  });
  const receivedBy = new Map<string, () => void>();
  const refused = new Counter({
    name: 'websocket_refused_total',
    help: 'Inputs refused, per reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const publishes = new Counter({
    name: 'websocket_http_publishes_total',
    help: 'POST /bus-message requests, per HTTP status',
    labelNames: ['status'],
    registers: [registry],
  });
  const disconnects = new Counter({
    name: 'websocket_disconnects_total',
    help: 'Socket disconnections, per namespace and reason',
    labelNames: ['namespace', 'reason'],
    registers: [registry],
  });
  if (recovery) {
    // Counted by the recovery as it goes, handed over when scraped like the deliveries.
    const reported = new Map<string, number>();
    const sessions = new Counter({
      name: 'websocket_recovery_sessions_total',
      help: 'Disconnected 4.x sessions, per namespace and outcome: recovered, expired, session_cap and total_cap (dropped for a byte cap), unrecoverable (came back too late for what it missed)',
      labelNames: ['namespace', 'outcome'],
      registers: [registry],
      collect() {
        for (const [key, total] of recovery.outcomes) {
          const [namespace, outcome] = key.split(' ');
          sessions.inc({ namespace, outcome }, total - (reported.get(key) ?? 0));
          reported.set(key, total);
        }
      },
    });
    const held = new Gauge({
      name: 'websocket_recovery_held_bytes',
      help: 'Bytes of events kept for clients that may come back',
      registers: [registry],
      collect() {
        held.set(recovery.heldBytes());
      },
    });
    new Gauge({
      name: 'websocket_recovery_pending_sessions',
      help: 'Disconnected sessions that may still come back, per namespace',
      labelNames: ['namespace'],
      registers: [registry],
      collect() {
        for (const [namespace, count] of recovery.pending()) this.set({ namespace }, count);
      },
    });
  }
  // Cluster mode only: a single node has no one to relay to.
  const forwards = cluster
    ? {
        relayed: new Counter({
          name: 'websocket_forwarded_requests_total',
          help: 'Requests relayed to the node holding their session (clients without a sticky cookie), per kind: poll, post, upgrade',
          labelNames: ['kind'],
          registers: [registry],
        }),
        failed: new Counter({
          name: 'websocket_forward_failures_total',
          help: 'Relayed requests that failed on the way (the holding node unreachable, silent or gone), per kind',
          labelNames: ['kind'],
          registers: [registry],
        }),
      }
    : undefined;
  if (cluster) {
    const redisUp = new Gauge({
      name: 'websocket_redis_connected',
      help: '1 when this node is linked to the other nodes through Redis',
      registers: [registry],
      collect() {
        redisUp.set(readiness().ready ? 1 : 0);
      },
    });
    let counted = 0;
    const lost = new Counter({
      name: 'websocket_redis_publishes_lost_total',
      help: 'Cross-node publishes dropped or failed because Redis was away, stalled or behind',
      registers: [registry],
      collect() {
        const total = cluster.lostPublishes();
        lost.inc(total - counted);
        counted = total;
      },
    });
  }

  return {
    registry,
    // One counter function per namespace and verb, shared by every socket.
    received: (namespace, verb) => {
      const key = `${namespace} ${verb}`;
      let count = receivedBy.get(key);
      if (!count) {
        const child = received.labels(namespace, verb);
        count = () => child.inc();
        receivedBy.set(key, count);
      }
      return count;
    },
    refused: (reason) => refused.inc({ reason }),
    httpPublish: (status) => publishes.inc({ status: String(status) }),
    forwarded: (kind) => forwards?.relayed.inc({ kind }),
    forwardFailed: (kind) => forwards?.failed.inc({ kind }),
    watch(nsp) {
      namespaces.push(nsp);
      const tally = { count: 0 };
      deliveries.set(nsp.name, tally);
      onOutgoingPacket(nsp, () => {
        tally.count += 1;
      });
      // One listener for all the namespace's sockets (the socket is its `this`): nothing per connection.
      function onDisconnect(this: Socket, reason: string) {
        disconnects.inc({ namespace: nsp.name, reason });
      }
      nsp.on('connection', (socket: Socket) => {
        socket.on('disconnect', onDisconnect);
      });
    },
  };
}
