#!/usr/bin/env node
/**
 * The container's health check: GET /healthcheck on this node, exit 0 when it answers 200. The
 * URL is the one the running server wrote at listen (so flags such as `--https -p 8443` count);
 * without that file, the port and scheme come from the environment as the server reads it
 * (WEBSOCKET_SERVICE_PORT and WEBSOCKET_SERVICE_HTTPS, or their WS_ forms).
 */
import http from 'node:http';
import https from 'node:https';
import { listenUrlFile, readListenUrl } from './listen-url';
import { parseBoolean, readEnvironment } from './options';

function target(): URL {
  const written = readListenUrl(listenUrlFile());
  if (written) return written;
  // The server's own reading of the environment: WEBSOCKET_SERVICE_PORT, or WS_PORT as before.
  const { values, sources } = readEnvironment(process.env);
  const secure = values.https !== undefined && parseBoolean(sources.https!, values.https);
  return new URL(`${secure ? 'https' : 'http'}://127.0.0.1:${Number(values.port ?? 3000)}`);
}

const url = new URL('/healthcheck', target());
const request = (url.protocol === 'https:' ? https : http).get(url, { rejectUnauthorized: false, timeout: 5000 }, (response) => {
  response.resume();
  process.exit(response.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${error.message}\n`);
  process.exit(1);
});
