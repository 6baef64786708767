#!/usr/bin/env node
/**
 * The container's health check: GET /healthcheck on this node, with the port and scheme taken
 * from the same environment variables the server reads. Exit 0 when it answers 200.
 */
import http from 'node:http';
import https from 'node:https';
import { parseBoolean } from './options';

const secure = parseBoolean('WS_HTTPS', process.env.WS_HTTPS ?? 'false');
const port = Number(process.env.WS_PORT || 3000);
const request = (secure ? https : http).get(
  { host: '127.0.0.1', port, path: '/healthcheck', rejectUnauthorized: false, timeout: 5000 },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${error.message}\n`);
  process.exit(1);
});
