#!/usr/bin/env node
import type { AddressInfo } from 'node:net';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createServer } from './create-server';
import { listenUrlFile, localUrl, publishListenUrl } from './listen-url';
import { createLogger } from './logger';
import { envName, kebab, normalizeBooleanEnv, OPTION_SPECS, OptionError, printableConfig, rangeText, resolveOptions, type OptionSpec, type ServiceOptions } from './options';
import { loadOrCreateCertificate } from './tls';

const EXIT_USAGE = 2;

function fail(reason: string): never {
  process.stderr.write(`websocket-service: ${reason}\n`);
  process.exit(EXIT_USAGE);
}

function parseArgs(argv: string[]) {
  const parser = yargs(argv)
    .scriptName('websocket-service')
    .usage('$0 [options]\n\nRelays push notifications between publishers and room subscribers over Socket.IO.')
    .env('WS')
    .strict()
    .fail((message, error) => fail(message ?? error?.message ?? 'invalid arguments'))
    .help()
    .alias('h', 'help')
    .version()
    .option('print-config', { type: 'boolean', describe: 'print the effective configuration (secrets masked) and exit' })
    .epilogue('Every option can also be set from the environment: WS_ + its name in upper snake case, e.g. WS_CORS_ORIGIN. LOG_NAME sets the source of 2immerse log lines.');
  for (const name of Object.keys(OPTION_SPECS) as (keyof ServiceOptions)[]) {
    const spec: OptionSpec<unknown> = OPTION_SPECS[name];
    const range = rangeText(spec);
    // Numbers are read as text so that a bad value is reported as typed, not as NaN.
    parser.option(kebab(name), {
      alias: spec.alias,
      type: spec.type === 'integer' ? 'string' : spec.type,
      requiresArg: spec.type !== 'boolean',
      // Ranges and choices are listed here rather than given to yargs, whose refusal spans several lines.
      describe: `${spec.describe}${range ? ` (${range})` : ''} [env ${envName(name)}]`,
      default: spec.default,
    });
  }
  return parser.parseSync();
}

async function main() {
  try {
    normalizeBooleanEnv(process.env);
  } catch (error) {
    if (error instanceof OptionError) fail(error.message);
    throw error;
  }
  const args = parseArgs(hideBin(process.argv));
  let options: ServiceOptions;
  try {
    options = resolveOptions(Object.fromEntries(Object.keys(OPTION_SPECS).map((name) => [name, args[name]])));
  } catch (error) {
    if (error instanceof OptionError) fail(error.message);
    throw error;
  }
  if (args.printConfig) {
    process.stdout.write(JSON.stringify(printableConfig(options), null, 2) + '\n');
    process.exit(0);
  }
  const logger = createLogger({ format: options.logFormat, verbose: options.verbose, source: process.env.LOG_NAME });
  const tls = options.https ? await loadOrCreateCertificate(options.key, options.cert, logger) : undefined;
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

  let address: AddressInfo;
  try {
    address = await service.listen();
  } catch (error) {
    logger.fatal({ err: error }, `Cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`);
    process.exit(1);
  }
  // For the container's health check, which cannot see the flags this process was started with.
  const file = listenUrlFile();
  try {
    process.once('exit', publishListenUrl(file, localUrl(address, options.https)));
  } catch (error) {
    logger.warn({ err: error, file }, 'Cannot write the listen URL: the health check falls back to WS_PORT and WS_HTTPS');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`websocket-service: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
