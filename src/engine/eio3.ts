import type { Server as EngineServer } from 'engine.io';
import { engineServerOf, type TransportInternals, type V3Parser } from './internals';

const legacyParsers = new WeakMap<V3Parser, V3Parser>();

/** The v3 parser with engine.io 1.x's rule: binary framing whenever the client can read it. */
function legacyParser(v3: V3Parser): V3Parser {
  let legacy = legacyParsers.get(v3);
  if (!legacy) {
    legacy = {
      ...v3,
      encodePayload(packets, supportsBinary, callback) {
        if (supportsBinary) v3.encodePayloadAsBinary(packets, callback);
        else v3.encodePayload(packets, supportsBinary, callback);
      },
    };
    legacyParsers.set(v3, legacy);
  }
  return legacy;
}

/**
 * engine.io 1.x framed every long-polling payload in binary for Engine.IO v3 clients that did not
 * ask for base64, and some clients depend on it: Python's socketIO-client 0.6/0.7 reads nothing
 * else. engine.io 6 does so only when a packet is binary, so this gives its v3 polling transports
 * the old framing back. Engine.IO v4 clients and WebSocket transports are untouched.
 */
export function useLegacyPollingFraming(engine: EngineServer): void {
  const internals = engineServerOf(engine);
  const createTransport = internals.createTransport.bind(engine);
  internals.createTransport = (name, req) => {
    const transport = createTransport(name, req) as TransportInternals;
    if (transport.protocol === 3 && transport.name === 'polling' && transport.supportsBinary) {
      transport.parser = legacyParser(transport.parser);
    }
    return transport;
  };
}
