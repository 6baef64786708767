import fs from 'node:fs';

/** The parts of a V8 `.cpuprofile` (as written by `node --cpu-prof`) that are read here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled CPU time in the window, in ms (idle excluded). */
  busyMs: number;
  idleMs: number;
  /** Self time by area (package, Node internals, GC, native), as shares of busy time. */
  selfByArea: { area: string; share: number }[];
  /** Share of busy samples with the area anywhere on the stack. */
  inclusiveByArea: { area: string; share: number }[];
  /** Functions with the most self time. */
  topSelf: { fn: string; share: number }[];
}

/** Native functions that are system calls underneath (write/read on sockets). */
const SYSCALLS = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String', 'onStreamRead', 'readStart', 'readStop', 'close', 'shutdown']);

/** What part of the stack a frame belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(program)') return 'V8/native (unattributed)';
  if (url === '') return SYSCALLS.has(functionName) ? 'socket syscalls (native)' : 'builtins/native';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1];
  if (url.startsWith('node:internal/stream_base_commons') || url.startsWith('node:net') || url.startsWith('node:internal/streams')) return 'node net & streams';
  if (url.startsWith('node:_http') || url.startsWith('node:internal/http')) return 'node http';
  if (url.startsWith('node:')) return 'node (other)';
  if (/\/dist\/|\/src\//.test(url)) return 'service code';
  if (/dist-bench/.test(url)) return 'baseline code';
  return 'other';
}

/**
 * Summarises a CPU profile over a time window (CLOCK_MONOTONIC µs, the clock the profile's
 * timestamps use), so that connection set-up before the measured load does not count.
 */
export function summariseProfile(file: string, window?: [number, number]): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<string, number>();
  const selfArea = new Map<string, number>();
  const inclusiveArea = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    // A sample's weight is the time until the next one.
    const weight = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0;
    if (window && (t < window[0] || t > window[1])) continue;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    if (area === '(idle)') {
      idle += weight;
      continue;
    }
    busy += weight;
    const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|dist-bench)\//, '$1/')}:${lineNumber + 1}` : 'native';
    const fn = `${functionName || '(anonymous)'} ${where}`;
    self.set(fn, (self.get(fn) ?? 0) + weight);
    selfArea.set(area, (selfArea.get(area) ?? 0) + weight);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      seen.add(areaOf(frame.url, frame.functionName));
    }
    for (const a of seen) inclusiveArea.set(a, (inclusiveArea.get(a) ?? 0) + weight);
  }
  const shares = (map: Map<string, number>, top: number) =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([key, value]) => ({ key, share: busy > 0 ? value / busy : 0 }));
  return {
    file,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    selfByArea: shares(selfArea, 12).map(({ key, share }) => ({ area: key, share })),
    inclusiveByArea: shares(inclusiveArea, 12).map(({ key, share }) => ({ area: key, share })),
    topSelf: shares(self, 12).map(({ key, share }) => ({ fn: key, share })),
  };
}
