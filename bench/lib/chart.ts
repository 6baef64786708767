/**
 * Charts drawn with Vega-Lite and rendered to SVG by Vega's headless renderer (no browser, no
 * canvas). Both packages are ES modules: loaded with a real dynamic import from this CommonJS
 * build.
 */
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

interface VegaLite {
  compile(spec: object): { spec: object };
}
interface Vega {
  parse(spec: object): unknown;
  View: new (runtime: unknown, options: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
}

/** Renders a Vega-Lite specification to an SVG document. */
export async function renderSvg(spec: object): Promise<string> {
  const vl = (await importModule('vega-lite')) as VegaLite;
  const vega = (await importModule('vega')) as Vega;
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface LoadRow {
  server: string;
  offered: number;
  achieved: number;
  p99Ms: number;
}

/** Throughput and p99 latency against offered load, one line per server, side by side. */
export function loadChartSpec(rows: LoadRow[], title: string, unit: string): object {
  const x = { field: 'offered', type: 'quantitative', title: `offered load (${unit})`, axis: { format: '~s' } };
  const color = { field: 'server', type: 'nominal', title: 'server' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    config: { font: 'sans-serif', view: { stroke: null }, legend: { orient: 'bottom' } },
    hconcat: [
      {
        width: 360,
        height: 260,
        title: 'throughput',
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'achieved', type: 'quantitative', title: `delivered (${unit})`, axis: { format: '~s' } }, color },
      },
      {
        width: 360,
        height: 260,
        title: 'p99 latency, NOTIFY → EVENT',
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'p99Ms', type: 'quantitative', title: 'p99 latency (ms, log scale)', scale: { type: 'log' } }, color },
      },
    ],
  };
}
