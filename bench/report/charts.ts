import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * Charts of the benchmark report as Vega-Lite specs, rendered to SVG in Node by Vega's headless view (no
 * browser, no canvas, no native dependency). Each function takes plain rows from the result JSON.
 */
const WIDTH = 420;
const HEIGHT = 240;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface TtftPoint {
  contextTokens: number;
  mode: string;
  ttftMs: number;
}

export function ttftChart(points: readonly TtftPoint[], model: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Time to first token against context length', subtitle: `${model}, CPU; median of runs` },
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'contextTokens', type: 'quantitative', title: 'context (tokens)', scale: { type: 'log', base: 2 }, axis: { values: [...new Set(points.map((p) => p.contextTokens))] } },
      y: { field: 'ttftMs', type: 'quantitative', title: 'TTFT (ms, log)', scale: { type: 'log' } },
      color: { field: 'mode', type: 'nominal', title: 'mode' },
    },
  };
}

export interface EfPoint {
  dataset: string;
  ef: number;
  recallAtK: number;
  qps: number;
}

export function efChart(points: readonly EfPoint[], k: number): TopLevelSpec {
  const x = { field: 'ef', type: 'quantitative' as const, title: 'ef (query breadth)', scale: { type: 'log' as const, base: 2 }, axis: { values: [...new Set(points.map((p) => p.ef))] } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `HNSW recall@${k} and queries/s against ef`, subtitle: 'against exact search on the same vectors' },
    data: { values: points.map((p) => ({ ...p })) },
    hconcat: [
      {
        width: 300,
        height: HEIGHT,
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'recallAtK', type: 'quantitative', title: `recall@${k}`, scale: { zero: false } }, color: { field: 'dataset', type: 'nominal' } },
      },
      {
        width: 300,
        height: HEIGHT,
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'qps', type: 'quantitative', title: 'queries/s (log)', scale: { type: 'log' } }, color: { field: 'dataset', type: 'nominal' } },
      },
    ],
  };
}

export interface ThroughputBar {
  stage: string;
  perSecond: number;
}

export function ingestChart(bars: readonly ThroughputBar[], embedder: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Ingestion throughput (chunks/s)', subtitle: embedder },
    width: WIDTH,
    height: 36 * bars.length,
    data: { values: bars.map((b) => ({ ...b })) },
    mark: 'bar',
    encoding: {
      y: { field: 'stage', type: 'nominal', title: null, sort: null },
      x: { field: 'perSecond', type: 'quantitative', title: 'chunks per second' },
    },
  };
}

export function calibrationChart(profile: readonly number[], model: string, prompts: number): TopLevelSpec {
  const k = profile.length;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Attention-basin profile (k = ${k})`, subtitle: `${model}, ${prompts} calibration prompts; dashed: uniform 1/k` },
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: profile.map((v, i) => ({ slot: i + 1, mass: v })) },
        mark: 'bar',
        encoding: {
          x: { field: 'slot', type: 'ordinal', title: 'block slot (prompt order)' },
          y: { field: 'mass', type: 'quantitative', title: 'share of question attention' },
        },
      },
      {
        data: { values: [{ uniform: 1 / k }] },
        mark: { type: 'rule', strokeDash: [4, 4] },
        encoding: { y: { field: 'uniform', type: 'quantitative' } },
      },
    ],
  };
}

export interface CompressBar {
  contextTokens: number;
  variant: string;
  ttftMs: number;
}

export function compressChart(bars: readonly CompressBar[], model: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'TTFT with and without compression (blocks warm)', subtitle: model },
    width: WIDTH,
    height: HEIGHT,
    data: { values: bars.map((b) => ({ ...b, context: `${b.contextTokens} tokens` })) },
    mark: 'bar',
    encoding: {
      x: { field: 'context', type: 'nominal', title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'variant', type: 'nominal', sort: null },
      y: { field: 'ttftMs', type: 'quantitative', title: 'TTFT (ms)' },
      color: { field: 'variant', type: 'nominal', title: null, sort: null },
    },
  };
}

/** One stage of one run drawn as a waterfall segment: it starts where the previous stage of its bar ended. */
export interface WaterfallSegment {
  /** Facet row (a TTFT mode, a compression variant). */
  group: string;
  /** Bar within the row (a context length). */
  bar: string;
  stage: string;
  startMs: number;
  endMs: number;
}

/** Consecutive stages as segments from 0 (stage order kept; zero-length stages dropped). */
export function waterfall(group: string, bar: string, stages: readonly [string, number][]): WaterfallSegment[] {
  let at = 0;
  const out: WaterfallSegment[] = [];
  for (const [stage, ms] of stages) {
    if (!(ms > 0)) continue;
    out.push({ group, bar, stage, startMs: at, endMs: at + ms });
    at += ms;
  }
  return out;
}

/** Stage waterfalls, one facet row per group with its own time axis (full prefill and cached blocks differ by 10-100x). */
export function waterfallChart(segments: readonly WaterfallSegment[], title: string, subtitle: string, stageOrder: readonly string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle },
    data: { values: segments.map((s) => ({ ...s })) },
    facet: { row: { field: 'group', type: 'nominal', title: null, sort: [...new Set(segments.map((s) => s.group))] } },
    spec: {
      width: WIDTH,
      height: { step: 18 },
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'bar', type: 'nominal', title: 'context', sort: [...new Set(segments.map((s) => s.bar))] },
        x: { field: 'startMs', type: 'quantitative', title: 'ms from the start of the ask' },
        x2: { field: 'endMs' },
        color: { field: 'stage', type: 'nominal', title: 'stage', sort: [...stageOrder], scale: { domain: [...stageOrder] } },
        tooltip: [{ field: 'stage' }, { field: 'startMs' }, { field: 'endMs' }],
      },
    },
    resolve: { scale: { x: 'independent' } },
  };
}
