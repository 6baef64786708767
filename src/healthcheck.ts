#!/usr/bin/env node
/**
 * The container's health check: GET /healthcheck on this node, exit 0 when it answers 200. The
 * URL is the one the running server wrote at listen (so flags such as `--https -p 8443` count);
 * without that file, the port and scheme come from WS_PORT and WS_HTTPS as the server reads them.
 */
import http from 'node:http';
import https from 'node:https';
import { listenUrlFile, readListenUrl } from './listen-url';
import { parseBoolean } from './options';

function target(): URL {
  const written = readListenUrl(listenUrlFile());
  if (written) return written;
  const secure = parseBoolean('WS_HTTPS', process.env.WS_HTTPS ?? 'false');
  return new URL(`${secure ? 'https' : 'http'}://127.0.0.1:${Number(process.env.WS_PORT || 3000)}`);
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
