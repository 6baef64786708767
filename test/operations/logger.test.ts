import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startLine } from '../../src/create-server';
import { createLogger, formatPlatformLine } from '../../src/logger';
import { resolveOptions } from '../../src/options';

// The start line of a default node on port 3000, as the service writes it.
const start = startLine(resolveOptions(), { address: '0.0.0.0', family: 'IPv4', port: 3000 }, true);
// vitest.config.ts runs the suite with TZ=UTC, so the offset below is +0000.
const LISTENING = { level: 30, time: Date.parse('2026-11-25T16:16:21.507Z'), ...start.fields, msg: start.message };

describe('2immerse log format', () => {
  it('reproduces the platform line shown in the README ("Logging") exactly', () => {
    const line = `2-Immerse subSource:ws level:INFO  url:"http://localhost:3000"  version:"${start.fields.version}"  bound:"0.0.0.0:3000"  mode:"single node"  console:"http://localhost:3000/console/"  logmessage:'websocket-service ${start.fields.version} listening on http://localhost:3000 (every IPv4 interface), single node; console http://localhost:3000/console/' sourcetime:2026-11-25T16:16:21.507+0000 source:websocket-service`;
    expect(formatPlatformLine(LISTENING, 'websocket-service')).toBe(`${line}\n`);
    const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme.split('\n').map((text) => text.trim())).toContain(line);
  });

  it("turns single quotes in the message into double quotes and maps pino's levels", () => {
    const line = formatPlatformLine({ level: 40, time: LISTENING.time, msg: "it's 'quoted'", room: 'r' }, 'x');
    expect(line).toBe(`2-Immerse subSource:ws level:WARN  room:"r"  logmessage:'it"s "quoted"' sourcetime:2026-11-25T16:16:21.507+0000 source:x\n`);
  });

  it('is what createLogger writes, debug records only when verbose', () => {
    for (const verbose of [false, true]) {
      const out = new PassThrough();
      const logger = createLogger({ format: '2immerse', verbose, source: 'svc', destination: out });
      logger.debug({ room: 'r' }, 'JOIN');
      logger.info('ready');
      const lines = String(out.read()).trim().split('\n');
      expect(lines.map((l) => /level:(\w+)/.exec(l)?.[1])).toEqual(verbose ? ['DEBUG', 'INFO'] : ['INFO']);
      expect(lines.every((l) => l.endsWith(' source:svc'))).toBe(true);
    }
  });

  it('writes pino JSON by default', () => {
    const out = new PassThrough();
    createLogger({ format: 'json', verbose: false, destination: out }).info({ nsp: '/layout' }, 'hello');
    expect(JSON.parse(String(out.read()))).toMatchObject({ level: 30, nsp: '/layout', msg: 'hello' });
  });
});
