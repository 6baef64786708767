import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './options';

export type { Logger } from 'pino';

const LEVEL_NAMES: Record<number, string> = { 10: 'DEBUG', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const RESERVED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** log4js's ISO8601_WITH_TZ_OFFSET, which the platform's log collector parses. */
function sourceTime(epochMs: number): string {
  const d = new Date(epochMs);
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/**
 * A message with its control characters written as JSON escapes (`\n` → `\\n`), so that no text
 * can end a log line and start a forged one. Fields need nothing: every format writes them as JSON.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/**
 * Turns one pino JSON record into the line the 2-IMMERSE services logged:
 * `2-Immerse subSource:ws level:INFO  id:"abc"  logmessage:'…' sourcetime:… source:NAME`.
 */
export function formatPlatformLine(record: Record<string, unknown>, source: string): string {
  const level = LEVEL_NAMES[record.level as number] ?? 'INFO';
  let pairs = '';
  for (const [key, value] of Object.entries(record)) {
    if (!RESERVED.has(key)) pairs += `  ${key}:${JSON.stringify(value)}`;
  }
  const message = escapeControl(String(record.msg ?? '')).replace(/'/g, '"');
  const time = typeof record.time === 'number' ? record.time : Date.now();
  return `2-Immerse subSource:ws level:${level}${pairs}  logmessage:'${message}' sourcetime:${sourceTime(time)} source:${source}\n`;
}

function platformStream(source: string, out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      out.write(formatPlatformLine(JSON.parse(line) as Record<string, unknown>, source));
    },
  };
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  format: LogFormat;
  /** The least severe level written; `info` by default. */
  level?: LogLevel;
  /** Shorthand for `level: 'debug'`. */
  verbose?: boolean;
  /** The `source` of 2-IMMERSE lines; the old service took it from `LOG_NAME`. */
  source?: string;
  /** Where lines go; standard output by default. */
  destination?: NodeJS.WritableStream;
}

/** Builds the service's logger: info by default, or `level`, or debug with `verbose`. */
export function createLogger({ format, level = 'info', verbose = false, source = 'websocket-service', destination = process.stdout }: LoggerOptions): Logger {
  const options = { level: verbose ? 'debug' : level, base: undefined };
  switch (format) {
    case 'pretty':
      return pino(options, pretty({ destination, sync: true, colorize: false, singleLine: true, messageFormat: (log, key) => escapeControl(String(log[key] ?? '')) }));
    case '2immerse':
      return pino(options, platformStream(source, destination));
    default:
      return pino(options, destination);
  }
}

/**
 * What may be logged of a request: the path and the Engine.IO protocol parameters only. The full
 * URL would carry the session id and the 1.x/2.x clients' `?token=`, both credentials.
 */
export function requestSummary(req: { url?: string }): { path: string; eio?: string; transport?: string } {
  const url = new URL(req.url ?? '/', 'http://x');
  return { path: url.pathname, eio: url.searchParams.get('EIO') ?? undefined, transport: url.searchParams.get('transport') ?? undefined };
}
