/**
 * The shape of the house: no import circles, no module importing from a layer above its own, and
 * the container's health probe loading neither Redis nor Socket.IO.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../src');
const DIST = path.resolve(__dirname, '../../dist');

/**
 * Layers, lowest first: a module may import from its own layer or the ones below. The vocabulary
 * (wire contract, refusals, options) knows nothing of the engine; the engine wing knows nothing of
 * the domain; handlers sit above both; the recipe above them; the entry points on top.
 */
const LAYERS: string[][] = [
  ['events', 'errors', 'options', 'logger', 'identity', 'rooms', 'protocol', 'listen-url', 'package-info'],
  ['engine/*'],
  ['auth', 'limits', 'metrics', 'cluster', 'forwarding', 'tls', 'http-server', 'command-line'],
  ['namespaces/*', 'console/*', 'guards'],
  ['http'],
  ['create-server'],
  ['index', 'server', 'cli-client', 'healthcheck'],
];

function layerOf(module: string): number {
  const index = LAYERS.findIndex((layer) => layer.some((entry) => entry === module || (entry.endsWith('/*') && module.startsWith(entry.slice(0, -1)))));
  if (index < 0) throw new Error(`src/${module}.ts is in no layer of architecture.test.ts`);
  return index;
}

function modules(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'public' ? [] : modules(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full).replace(/\.ts$/, '')] : [];
  });
}

/** The project modules `module` imports (type-only imports included: they couple too). */
function importsOf(module: string): string[] {
  const text = fs.readFileSync(path.join(SRC, `${module}.ts`), 'utf8');
  const found = new Set<string>();
  for (const match of text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) {
    let target = path.relative(SRC, path.resolve(path.dirname(path.join(SRC, module)), match[1]));
    if (fs.existsSync(path.join(SRC, target, 'index.ts'))) target = path.join(target, 'index');
    found.add(target);
  }
  return [...found];
}

describe('architecture', () => {
  const graph = new Map(modules().map((module) => [module, importsOf(module)]));

  it('has no import circles', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (module: string, trail: string[]) => {
      if (state.get(module) === 'done') return;
      if (state.get(module) === 'open') {
        circles.push([...trail.slice(trail.indexOf(module)), module].join(' → '));
        return;
      }
      state.set(module, 'open');
      for (const target of graph.get(module) ?? []) visit(target, [...trail, module]);
      state.set(module, 'done');
    };
    for (const module of graph.keys()) visit(module, []);
    expect(circles).toEqual([]);
  });

  it('has no upward imports', () => {
    const upward = [...graph].flatMap(([module, targets]) =>
      targets.filter((target) => layerOf(target) > layerOf(module)).map((target) => `${module} → ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it('keeps every cast to engine.io and Socket.IO private shapes inside src/engine/', () => {
    // Casts through unknown, and the private members the engine wing reads.
    const PRIVATE = /as unknown as|\b(?:writeBuffer|bufferedAmount|_nsps|notifyOutgoingListeners|createTransport|ondecoded|_socket|_query|_events)\b/;
    const outside = [...graph.keys()].filter((module) => !module.startsWith('engine/') && PRIVATE.test(fs.readFileSync(path.join(SRC, `${module}.ts`), 'utf8')));
    expect(outside).toEqual([]);
  });

  it('loads neither Redis nor Socket.IO in the container health check', () => {
    // Probes a closed port: the check fails fast, and what it loaded is listed on exit.
    const preload = "process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(require.cache))))";
    const result = spawnSync(process.execPath, ['-e', `${preload}; require(${JSON.stringify(path.join(DIST, 'healthcheck.js'))})`], {
      // An empty TMPDIR: no listen URL left by another test's server.
      env: { ...process.env, WS_PORT: '1', WS_HTTPS: 'false', TMPDIR: fs.mkdtempSync(path.join(os.tmpdir(), 'ws-arch-')) },
      encoding: 'utf8',
      timeout: 10_000,
    });
    const loaded = JSON.parse(/LOADED (.*)$/m.exec(result.stderr)?.[1] ?? 'null') as string[] | null;
    expect(loaded).not.toBeNull();
    expect(loaded!.filter((file) => /node_modules[\\/](ioredis|@socket\.io|socket\.io|engine\.io)[\\/]/.test(file))).toEqual([]);
    expect(result.status).toBe(1);
  });
});
