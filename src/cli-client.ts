#!/usr/bin/env node
/**
 * websocket-service-cli: a command-line client for people debugging a deployment.
 *
 *   websocket-service-cli listen  --url URL --room ROOM [--namespace /layout] [--name NAME]
 *   websocket-service-cli notify  --url URL --room ROOM --message JSON [--name NAME]
 *   websocket-service-cli clients --url URL --room ROOM
 *   websocket-service-cli post    --url URL --room ROOM --message JSON
 *
 * Exit codes: 0 done, 1 server unreachable or connection refused, 2 usage error,
 * 3 the server refused the request (ERROR or an HTTP error status).
 */
import { io, type Socket } from 'socket.io-client';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { ClientsReply, ErrorReply, RoomClientToServerEvents, RoomEvent, RoomServerToClientEvents } from './events';

const EXIT = { ok: 0, unreachable: 1, usage: 2, refused: 3 } as const;

type RoomSocket = Socket<RoomServerToClientEvents, RoomClientToServerEvents>;

interface Args {
  command: 'listen' | 'notify' | 'clients' | 'post';
  url: string;
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

function open(args: Args): Promise<RoomSocket> {
  const socket: RoomSocket = io(new URL(args.namespace, args.url).toString(), {
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
      reject(new CliError(`cannot connect to ${args.url}${args.namespace}: ${error.message}`, EXIT.unreachable));
    });
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
      const url = new URL(`/bus-message/${encodeURIComponent(args.room)}`, args.url);
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(args.token ? { authorization: `Bearer ${args.token}` } : {}) },
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(args.timeout),
        });
      } catch (error) {
        throw new CliError(`cannot reach ${url.origin}: ${(error as Error).cause ?? (error as Error).message}`, EXIT.unreachable);
      }
      const text = (await response.text()).trim();
      if (!response.ok) throw new CliError(`server answered ${response.status}: ${text}`, EXIT.refused);
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
    .option('url', { type: 'string', demandOption: true, describe: 'service URL, e.g. https://host:3000' })
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
  try {
    new URL(argv.url);
  } catch {
    process.stderr.write(`websocket-service-cli: --url is not a URL: ${argv.url}\n`);
    process.exit(EXIT.usage);
  }
  const code = await run({ ...argv, command } as Args);
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`websocket-service-cli: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof CliError ? error.code : EXIT.unreachable);
});
