#!/usr/bin/env node
/**
 * websocket-service-cli: a command-line client for people debugging a deployment.
 *
 *   websocket-service-cli listen  --url URL --room ROOM [--namespace /layout] [--name NAME]
 *   websocket-service-cli notify  --url URL --room ROOM --message JSON [--name NAME]
 *   websocket-service-cli clients --url URL --room ROOM
 *   websocket-service-cli post    --url URL --room ROOM --message JSON
 *
 * URL is the service's base URL: a path in it is a prefix (a reverse proxy's) put in front of
 * both the Socket.IO path (`--path`, as the node was started with) and `/bus-message`.
 *
 * Exit codes: 0 done, 1 server unreachable or connection refused, 2 usage error,
 * 3 the server refused the request (ERROR or an HTTP error status).
 */
import http from 'node:http';
import https from 'node:https';
import { io, type Socket } from 'socket.io-client';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { NAMESPACES, type ClientsReply, type ErrorReply, type RoomClientToServerEvents, type RoomEvent, type RoomServerToClientEvents } from './events';

const EXIT = { ok: 0, unreachable: 1, usage: 2, refused: 3 } as const;

type RoomSocket = Socket<RoomServerToClientEvents, RoomClientToServerEvents>;

interface Args {
  command: 'listen' | 'notify' | 'clients' | 'post';
  /** The base URL, checked: http(s), no query, no trailing slash. */
  url: URL;
  /** The node's Socket.IO path. */
  path: string;
  namespace: string;
  room: string;
  message?: string;
  name?: string;
  token?: string;
  timeout: number;
  insecure: boolean;
}

class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

function parseMessage(text: string | undefined): unknown {
  if (text === undefined) throw new CliError('--message is required', EXIT.usage);
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`--message is not valid JSON: ${text}`, EXIT.usage);
  }
}

/**
 * Checks `--url`: http(s) (ws(s) taken as their http(s) twins), nothing after the path, and the
 * path a prefix rather than a namespace. `localhost:3000` parses as a URL of scheme `localhost:`,
 * hence the scheme check.
 */
function parseServiceUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`--url is not a URL: ${text} (e.g. http://localhost:3000)`, EXIT.usage);
  }
  const scheme = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' }[url.protocol];
  if (!scheme) throw new CliError(`--url must start with http:// or https://, got ${text} (did you mean http://${text}?)`, EXIT.usage);
  if (url.search || url.hash) throw new CliError(`--url takes no query or fragment: ${text}`, EXIT.usage);
  const prefix = url.pathname.replace(/\/+$/, '');
  if ((NAMESPACES as readonly string[]).includes(prefix)) {
    throw new CliError(`--url ends in the namespace ${prefix}: give the service's base URL and --namespace ${prefix}`, EXIT.usage);
  }
  return new URL(`${scheme}//${url.host}${prefix}`);
}

/** The service's base URL plus `path`, keeping the base URL's own path as a prefix. */
function under(base: URL, path: string): URL {
  const url = new URL(base);
  url.pathname = base.pathname.replace(/\/+$/, '') + path;
  return url;
}

/** A Node.js network or TLS error's code and message, as found under the clients' wrappers. */
interface Cause {
  code?: string;
  message: string;
}

/**
 * Says why the connection to `url` (a Socket.IO path when `socket`) failed, in words an operator
 * can act on, with a hint where the usual mistake is known (a self-signed certificate, the wrong
 * scheme, the wrong path).
 */
function describeFailure(cause: Cause, url: URL, args: Args, socket: boolean): string {
  const { code, message } = cause;
  if (code === 'ECONNREFUSED') return `connection refused by ${url.host}: is the service running there?`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host ${url.hostname} not found`;
  if (code === 'ETIMEDOUT' || message === 'timeout') return `no answer from ${url.host} within ${args.timeout} ms`;
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    const hint = args.insecure ? '' : '; if it is self-signed and you trust it, pass --insecure';
    return `the server's TLS certificate was not accepted: ${message} (${code})${hint}`;
  }
  if (code === 'EPROTO' || code?.startsWith('ERR_SSL')) return `TLS handshake with ${url.host} failed (${message}): is the service plain http://?`;
  if (code === 'ECONNRESET' || message === 'socket hang up') {
    // A node hangs up on a WebSocket upgrade outside its --path, and an HTTPS node on plain HTTP.
    const hints: string[] = [];
    if (socket) hints.push(`is ${url.pathname} the node's Socket.IO path (see --path)?`);
    if (url.protocol === 'http:') hints.push('does the service use https://?');
    return `${url.host} closed the connection without answering (${message})${hints.length ? `: ${hints.join(' Or ')}` : ''}`;
  }
  const status = /Unexpected server response: (\d+)/.exec(message)?.[1];
  if (status) return `the server answered HTTP ${status} at ${url.pathname}: check --url and --path (the node's --path)`;
  return code ? `${message} (${code})` : message;
}

/** The Node.js error under socket.io-client's connect_error (a TransportError over a ws ErrorEvent). */
function connectCause(error: Error & { description?: unknown }): Cause {
  const description = error.description as { error?: Cause; message?: string } | undefined;
  if (description?.error instanceof Error) return description.error;
  if (description instanceof Error) return description;
  return error;
}

function open(args: Args): Promise<RoomSocket> {
  const socketPath = under(args.url, args.path);
  const socket: RoomSocket = io(new URL(args.namespace, args.url.origin).toString(), {
    path: socketPath.pathname,
    transports: ['websocket'],
    reconnection: false,
    timeout: args.timeout,
    auth: args.token ? { token: args.token } : undefined,
    rejectUnauthorized: !args.insecure,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      const reason = describeFailure(connectCause(error), socketPath, args, true);
      reject(new CliError(`cannot connect to ${args.url.origin}${args.namespace} (Socket.IO path ${socketPath.pathname}): ${reason}`, EXIT.unreachable));
    });
  });
}

/** POSTs `body` as JSON; TLS checked unless `--insecure`, which fetch() offers no switch for. */
function post(url: URL, body: string, args: Args): Promise<{ status: number; text: string }> {
  const headers = { 'content-type': 'application/json', ...(args.token ? { authorization: `Bearer ${args.token}` } : {}) };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').trim() }));
      res.on('error', reject);
    };
    const req =
      url.protocol === 'https:'
        ? https.request(url, { method: 'POST', headers, rejectUnauthorized: !args.insecure }, onResponse)
        : http.request(url, { method: 'POST', headers }, onResponse);
    req.setTimeout(args.timeout, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error: Cause) => reject(new CliError(`cannot reach ${url.origin}: ${describeFailure(error, url, args, false)}`, EXIT.unreachable)));
    req.end(body);
  });
}

/** Emits and waits for the ack, failing on the ERROR the server sends instead. */
function request(socket: RoomSocket, args: Args, event: 'JOIN' | 'LEAVE', payload: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: ErrorReply) => reject(new CliError(`server refused ${error.event}: ${error.message}`, EXIT.refused));
    socket.once('ERROR', onError);
    socket.timeout(args.timeout).emit(event, JSON.stringify(payload), (error?: Error) => {
      socket.off('ERROR', onError);
      if (error) reject(new CliError(`no answer to ${event} within ${args.timeout} ms`, EXIT.unreachable));
      else resolve();
    });
  });
}

/** CLIENTS, which also tells that everything sent before it was handled (one socket's events are handled in order). */
function clients(socket: RoomSocket, args: Args): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CliError(`no answer to CLIENTS within ${args.timeout} ms`, EXIT.unreachable)), args.timeout);
    socket.once('ERROR', (error) => {
      clearTimeout(timer);
      reject(new CliError(`server refused ${error.event}: ${error.message}`, EXIT.refused));
    });
    socket.once('CLIENTS', (reply: ClientsReply) => {
      clearTimeout(timer);
      resolve(reply.clients);
    });
    socket.emit('CLIENTS', JSON.stringify({ room: args.room }));
  });
}

async function run(args: Args): Promise<number> {
  switch (args.command) {
    case 'post': {
      const message = parseMessage(args.message);
      const url = under(args.url, `/bus-message/${encodeURIComponent(args.room)}`);
      const { status, text } = await post(url, JSON.stringify(message), args);
      if (status < 200 || status > 299) throw new CliError(`server answered ${status}: ${text}`, EXIT.refused);
      process.stdout.write(`${text}\n`);
      return EXIT.ok;
    }
    case 'listen': {
      const socket = await open(args);
      socket.on('EVENT', (event: RoomEvent) => process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n'));
      socket.on('ERROR', (error) => process.stderr.write(`server error on ${error.event}: ${error.message}\n`));
      await request(socket, args, 'JOIN', { room: args.room, name: args.name ?? 'websocket-service-cli' });
      process.stderr.write(`listening to ${args.namespace} room ${args.room}; Ctrl-C to stop\n`);
      return new Promise((resolve) => {
        const stop = () => {
          socket.close();
          resolve(EXIT.ok);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        socket.on('disconnect', (reason) => {
          if (reason === 'io client disconnect') return;
          process.stderr.write(`disconnected: ${reason}\n`);
          resolve(EXIT.unreachable);
        });
      });
    }
    case 'notify': {
      const message = parseMessage(args.message);
      const socket = await open(args);
      try {
        // Only a JOIN sets a sender's name; it leaves again straight after.
        if (args.name) await request(socket, args, 'JOIN', { room: args.room, name: args.name });
        socket.emit('NOTIFY', JSON.stringify({ room: args.room, message }));
        if (args.name) await request(socket, args, 'LEAVE', { room: args.room });
        await clients(socket, args);
        return EXIT.ok;
      } finally {
        socket.close();
      }
    }
    case 'clients': {
      const socket = await open(args);
      try {
        process.stdout.write(JSON.stringify(await clients(socket, args)) + '\n');
        return EXIT.ok;
      } finally {
        socket.close();
      }
    }
  }
}

async function main() {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('websocket-service-cli')
    .usage('$0 <listen|notify|clients|post> --url URL --room ROOM [options]')
    .command('listen', 'join ROOM and print each EVENT as one JSON line until stopped')
    .command('notify', 'send one NOTIFY with --message to ROOM')
    .command('clients', "print the names of ROOM's members as a JSON array")
    .command('post', 'publish --message to ROOM on /bus through POST /bus-message')
    .demandCommand(1, 1)
    .option('url', { type: 'string', demandOption: true, describe: 'service base URL, e.g. https://host:3000 (a path is kept as a prefix)' })
    .option('path', { type: 'string', default: '/socket.io', describe: "the node's Socket.IO path (its --path)" })
    .option('namespace', { type: 'string', default: '/layout', choices: ['/layout', '/bus'], describe: 'namespace' })
    .option('room', { type: 'string', demandOption: true, describe: 'room id' })
    .option('message', { type: 'string', describe: 'message as JSON (notify, post)' })
    .option('name', { type: 'string', describe: 'name to JOIN under (listen, notify)' })
    .option('token', { type: 'string', describe: 'client token (sockets) or publish token (post)' })
    .option('timeout', { type: 'number', default: 5000, describe: 'ms to wait for the server' })
    .option('insecure', { type: 'boolean', default: false, describe: 'accept self-signed certificates' })
    .strict()
    .fail((message, error) => {
      process.stderr.write(`websocket-service-cli: ${message ?? error?.message}\n`);
      process.exit(EXIT.usage);
    })
    .help()
    .parseAsync();
  const command = String(argv._[0]);
  if (!['listen', 'notify', 'clients', 'post'].includes(command)) {
    process.stderr.write(`websocket-service-cli: unknown command ${command}\n`);
    process.exit(EXIT.usage);
  }
  if (!argv.path.startsWith('/')) {
    process.stderr.write(`websocket-service-cli: --path must start with /, got ${argv.path}\n`);
    process.exit(EXIT.usage);
  }
  const code = await run({ ...argv, command, url: parseServiceUrl(argv.url) } as Args);
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`websocket-service-cli: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof CliError ? error.code : EXIT.unreachable);
});
