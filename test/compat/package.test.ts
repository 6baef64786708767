/**
 * The package as a consumer gets it: the tarball of `npm pack`, unpacked into a fresh project
 * beside the production dependencies only (linked from this checkout, so no @types package that is
 * a dev dependency here can hide a leak), then type-checked by tsc with `skipLibCheck: false` under
 * three module settings and loaded by Node. Uses dist/ as built by `npm test`'s pretest.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const run = promisify(execFile);

/** The README's typed-client example, compiled as written. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Typed client events'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README: no ```ts block under "Typed client events"');
  return code;
}

/** A library user: the factory, the Express app it exposes, and a type from the events subpath. */
const LIBRARY_CLIENT = `
import { createServer, type WebsocketService } from 'websocket-service';
import type { RoomEvent } from 'websocket-service/events';

export async function start(): Promise<WebsocketService> {
  const service = createServer({ port: 0, corsOrigin: ['https://app.example'] });
  service.app.get('/extra', (_req, res) => {
    res.send('extra');
  });
  await service.listen();
  return service;
}
export const sample: RoomEvent = { sender: 'tv', room: 'R', message: 1 };
`;

// Every package's declarations are checked; TypeScript's own lib files are not what is on trial,
// and skipping them halves the run.
const STRICT = { target: 'es2022', strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true };

/** The consumer settings checked, and the files each compiles. */
const SETTINGS = {
  // .mts is an ES module, .cts a CommonJS one: both kinds of nodenext consumer.
  nodenext: { compilerOptions: { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext' }, files: ['readme-client.mts', 'library-client.cts'] },
  bundler: { compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'bundler' }, files: ['readme-client.ts', 'library-client.ts'] },
  commonjs: { compilerOptions: { ...STRICT, module: 'commonjs', moduleResolution: 'node10' }, files: ['readme-client.ts', 'library-client.ts'] },
};

let dir: string;
let packed: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-package-'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, timeout: 30_000 });
  const [{ filename, files }] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  packed = files.map((file) => file.path);
  const home = path.join(dir, 'node_modules', 'websocket-service');
  fs.mkdirSync(home, { recursive: true });
  await run('tar', ['-xzf', path.join(dir, filename), '-C', home, '--strip-components=1']);

  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const [key, entry] of Object.entries(lock.packages)) {
    // Top-level production packages; the nested ones are found under their real paths.
    if (!key.startsWith('node_modules/') || entry.dev || key.lastIndexOf('node_modules/') > 0) continue;
    const link = path.join(dir, key);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(ROOT, key), link, 'dir');
  }

  const example = readmeExample();
  for (const [file, text] of Object.entries({ 'readme-client': example, 'library-client': LIBRARY_CLIENT })) {
    for (const extension of ['ts', 'mts', 'cts']) fs.writeFileSync(path.join(dir, `${file}.${extension}`), text);
  }
  for (const [name, config] of Object.entries(SETTINGS)) fs.writeFileSync(path.join(dir, `tsconfig.${name}.json`), JSON.stringify(config));
}, 120_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** tsc's errors for one setting, each as `file: message` (file empty for a global error). */
async function typeErrors(setting: keyof typeof SETTINGS): Promise<{ file: string; message: string }[]> {
  const output = await run(process.execPath, [TSC, '-p', `tsconfig.${setting}.json`], { cwd: dir }).then(
    ({ stdout }) => stdout,
    (error: { code?: number; stdout: string; stderr: string }) => {
      // tsc exits 1 or 2 when it found errors; anything else means it did not finish checking.
      if (error.code !== 1 && error.code !== 2) throw new Error(`tsc (${setting}) failed: ${error.stderr || error.stdout}`);
      return error.stdout;
    },
  );
  return output
    .split('\n')
    .filter((line) => /error TS\d+/.test(line))
    .map((line) => {
      const located = /^(.+?)\(\d+,\d+\): (error TS\d+: .*)$/.exec(line);
      return located ? { file: located[1], message: located[2] } : { file: '', message: line };
    });
}

/** Where a file is, from the consumer's side: its own code, this package, or somebody else's. */
function owner(file: string): 'consumer' | 'websocket-service' | 'third party' {
  if (file === '' || !file.includes('node_modules')) return 'consumer';
  return file.startsWith('node_modules/websocket-service/') ? 'websocket-service' : 'third party';
}

describe('the packed package', () => {
  it('holds dist/: code, declarations and the console page; and builds itself when installed from git', () => {
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/events.js', 'dist/events.d.ts', 'dist/server.js', 'dist/cli-client.js', 'dist/console/public/console.js']) {
      expect(packed).toContain(file);
    }
    expect(packed.some((file) => file.startsWith('src/') || file.startsWith('test/'))).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts.prepare).toBe('npm run build');
  });

  // About 7 s of CPU per setting, most of it checking @types/node; the three run concurrently, and
  // the timeout leaves room for a machine busy with other work.
  it('type-checks for consumers under nodenext, bundler and CommonJS with skipLibCheck false', { timeout: 300_000 }, async () => {
    const [nodenext, bundler, commonjs] = await Promise.all([typeErrors('nodenext'), typeErrors('bundler'), typeErrors('commonjs')]);
    expect({ nodenext, bundler }).toEqual({ nodenext: [], bundler: [] });
    // Without esModuleInterop, pino's own typings fail on their default import of thread-stream;
    // that is pino's to fix (README, "Library use"). Neither this package nor the clients may.
    expect(commonjs.filter(({ file }) => owner(file) !== 'third party')).toEqual([]);
  });

  it('loads websocket-service/events with no dependency, and the root export from CommonJS and ES modules', async () => {
    // One process, the subpath required first: what it loaded is all the cache holds then.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(process.cwd() + '/');
      require('websocket-service/events');
      const eventsLoaded = Object.keys(require.cache);
      const cjs = require('websocket-service');
      const esm = await import('websocket-service');
      const { NAMESPACES } = await import('websocket-service/events');
      console.log(JSON.stringify({ eventsLoaded, cjs: [typeof cjs.createServer, cjs.NAMESPACES], esm: [typeof esm.createServer, NAMESPACES] }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
    const result = JSON.parse(stdout) as { eventsLoaded: string[]; cjs: unknown[]; esm: unknown[] };
    expect(result.eventsLoaded.map((file) => path.relative(dir, file))).toEqual([path.join('node_modules', 'websocket-service', 'dist', 'events.js')]);
    const namespaces = ['/layout', '/bus', '/lobby', '/trigger'];
    expect({ cjs: result.cjs, esm: result.esm }).toEqual({ cjs: ['function', namespaces], esm: ['function', namespaces] });
  });
});
