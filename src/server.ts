#!/usr/bin/env node
import type { AddressInfo } from 'node:net';
import { hideBin } from 'yargs/helpers';
import { parseCommandLine, type CommandLine } from './command-line';
import { listenUrlFile, localUrl, publishListenUrl } from './listen-url';
import { createLogger } from './logger';
import path from 'node:path';
import { DEFAULT_OPTIONS, OptionError, printableConfig } from './options';

const EXIT_USAGE = 2;

function readOptions(): CommandLine {
  try {
    return parseCommandLine(hideBin(process.argv), process.env);
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    process.stderr.write(`websocket-service: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
}

/** One line for a failed listen, with what to change: its stack would say nothing more. */
function listenFailure(error: NodeJS.ErrnoException & { port?: number; address?: string }, metricsPort: number): string {
  const where = `${error.address ?? '?'}:${error.port ?? '?'}`;
  const flag = metricsPort > 0 && error.port === metricsPort ? '--metrics-port (WEBSOCKET_SERVICE_METRICS_PORT)' : '--port (WEBSOCKET_SERVICE_PORT)';
  switch (error.code) {
    case 'EADDRINUSE':
      return `Cannot listen on ${where}: the port is in use by another process; choose another with ${flag}`;
    case 'EACCES':
      return `Cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose another with ${flag}`;
    case 'EADDRNOTAVAIL':
      return `Cannot listen on ${where}: ${error.address} is not an address of this machine; check --host (WEBSOCKET_SERVICE_HOST)`;
    default:
      return `Cannot listen on ${where}: ${error.message}`;
  }
}

async function main() {
  const { options, warnings, printConfig } = readOptions();
  if (printConfig) {
    for (const warning of warnings) process.stderr.write(`websocket-service: warning: ${warning}\n`);
    process.stdout.write(JSON.stringify(printableConfig(options), null, 2) + '\n');
    process.exit(0);
  }
  // Loaded only now: --help, --version and a bad option answer without loading Socket.IO and Express.
  const [{ createServer }, { loadOrCreateCertificate }, { ConsulLookupError }] = await Promise.all([import('./create-server'), import('./tls'), import('./cluster')]);
  const logger = createLogger({ format: options.logFormat, level: options.logLevel, source: process.env.LOG_NAME });
  for (const warning of warnings) logger.warn(warning);
  // Only the default certs/ pair is generated when missing; a path an operator chose must exist.
  const generate = path.resolve(options.key) === DEFAULT_OPTIONS.key && path.resolve(options.cert) === DEFAULT_OPTIONS.cert;
  const tls = options.https ? await loadOrCreateCertificate(options.key, options.cert, logger, { generate }) : undefined;
  const service = createServer({ ...options, tls }, { logger });

  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'Shutting down');
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  // For the container's health check, which cannot see the flags this process was started with.
  // Written on 'listening', before the start line, so that whoever waits for that line finds it.
  const file = listenUrlFile();
  service.httpServer.once('listening', () => {
    try {
      process.once('exit', publishListenUrl(file, localUrl(service.httpServer.address() as AddressInfo, options.https)));
    } catch (error) {
      logger.warn({ err: error, file }, 'Cannot write the listen URL: the health check falls back to the port and HTTPS variables');
    }
  });
  try {
    await service.listen();
  } catch (error) {
    // The look-up says what failed; its stack would say nothing more.
    logger.fatal(error instanceof ConsulLookupError ? error.message : listenFailure(error as NodeJS.ErrnoException & { port?: number; address?: string }, options.metricsPort));
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`websocket-service: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
