import type { TopLevelSpec } from 'vega-lite';
import { z } from 'zod';
import { fmt, markdownTable } from '../../eval/table.js';
import { renderSvg } from './charts.js';
import type { BenchRecord } from './results.js';

/**
 * The report section of the `induction` test model's answer checks: `rag eval facts --model induction --record` and
 * `rag eval niah --model induction --record` (records induction-facts and induction-niah).
 */
const Miss = z.object({ name: z.string(), code: z.string(), answer: z.string(), retrieved: z.boolean(), kept: z.boolean() });
const Facts = z.object({
  k: z.number(),
  searchMode: z.string().nullable(),
  needles: z.number(),
  cells: z.array(
    z.object({ label: z.string(), asked: z.number(), correct: z.number(), em: z.number(), retrieved: z.number(), factKept: z.number().nullable(), keptRate: z.number().nullable(), misses: z.array(Miss) }),
  ),
});
const Niah = z.object({
  k: z.number(),
  searchMode: z.string().nullable(),
  needle: z.object({ sentence: z.string(), question: z.string(), answer: z.string() }),
  runs: z.array(
    z.object({
      label: z.string(),
      cells: z.array(z.object({ tokens: z.number(), depthPercent: z.number(), retrieved: z.boolean(), kept: z.boolean(), exact: z.boolean(), answer: z.string() })),
    }),
  ),
});
type NiahRun = z.infer<typeof Niah>['runs'][number];

function parse<T>(rec: BenchRecord | undefined, schema: z.ZodType<T>, name: string): { ok: true; value: T } | { ok: false; why: string } {
  if (!rec) return { ok: false, why: `_Not run: \`${name}\` has no result in bench/results._` };
  const parsed = schema.safeParse(rec.result);
  if (!parsed.success) return { ok: false, why: `_The \`${name}\` result does not have the shape this report reads; re-run it._` };
  return { ok: true, value: parsed.data };
}

/** Share of settings answering exactly per (haystack size, depth). */
export function niahHeatmapChart(runs: readonly NiahRun[]): TopLevelSpec {
  const cells = new Map<string, { tokens: number; depth: number; exact: number }>();
  for (const r of runs) {
    for (const c of r.cells) {
      const key = `${c.tokens}/${c.depthPercent}`;
      const cell = cells.get(key) ?? { tokens: c.tokens, depth: c.depthPercent, exact: 0 };
      cell.exact += c.exact ? 1 : 0;
      cells.set(key, cell);
    }
  }
  const values = [...cells.values()].map((c) => ({ ...c, share: c.exact / runs.length, label: `${c.exact}/${runs.length}` }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Needle in a haystack: exact answers of the induction model', subtitle: `share of the ${runs.length} pipeline settings answering exactly` },
    width: 360,
    height: 200,
    data: { values },
    encoding: {
      x: { field: 'depth', type: 'ordinal', title: 'needle depth (%)' },
      y: { field: 'tokens', type: 'ordinal', title: 'haystack (tokens)', sort: 'ascending' },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'share', type: 'quantitative', title: 'exact', scale: { domain: [0, 1], scheme: 'greens' } } } },
      { mark: { type: 'text', fontSize: 12 }, encoding: { text: { field: 'label', type: 'nominal' } } },
    ],
  };
}

export async function inductionSection(factsRec: BenchRecord | undefined, niahRec: BenchRecord | undefined): Promise<{ markdown: string; svgs: Record<string, string> }> {
  const out: string[] = [
    '## Answer correctness: the induction test model',
    '',
    'The `induction` preset is a hand-set copying circuit (README, Models): it answers a cloze question ("The access code of <name> Station is") ' +
      'with the code that followed those words in its context, and only if the fact\'s tokens reach it intact. So exact match here measures the ' +
      'pipeline\'s information flow (retrieval, cached blocks, head recompute, KV-space compression, reordering), **not language understanding**. ' +
      'Retrieval is BM25 (the test embedder has random weights). The probe (blocks mode) and the basin profiles (k = 3 and 5, blocks and full mode, all layers) were trained and ' +
      'calibrated on this model first, on a separate fact set: `rag eval facts --write-data train.json --seed 100 --needles 96`, then ' +
      '`rag probe train --data train.json --n 96` and `rag calibrate --data train.json --k <k> --n 32 --mode <mode>` (with `GENERATOR_MODEL=test/induction`).',
    '',
  ];
  const svgs: Record<string, string> = {};
  const facts = parse(factsRec, Facts, 'induction-facts');
  if (!facts.ok) out.push(facts.why, '');
  else {
    const f = facts.value;
    out.push(
      `### ${f.needles} station facts in every setting`,
      '',
      `Collections of 12 documents with 4 facts and 6 filler sentences each; each fact asked once per setting (k = ${f.k}, answer = first number of the greedy answer).`,
      '',
      markdownTable(
        ['setting', 'exact', 'EM', 'fact retrieved', 'fact sentence kept (compressed)'],
        f.cells.map((c) => [c.label, `${c.correct}/${c.asked}`, fmt(c.em), `${c.retrieved}/${c.asked}`, c.factKept === null ? '—' : `${c.factKept}/${c.retrieved}`]),
      ),
      '',
    );
    const misses = f.cells.flatMap((c) => c.misses.map((m) => `- ${c.label}: ${m.name} ${m.code} answered ${JSON.stringify(m.answer)} (retrieved: ${m.retrieved}, kept: ${m.kept})`));
    out.push(misses.length ? ['Misses:', '', ...misses].join('\n') : 'No misses.', '', factsRec ? `Command: \`${factsRec.command}\` (${fmt(factsRec.seconds, 0)} s).` : '', '');
  }
  const niah = parse(niahRec, Niah, 'induction-niah');
  if (!niah.ok) out.push(niah.why, '');
  else {
    const n = niah.value;
    const sizes = [...new Set(n.runs[0]?.cells.map((c) => c.tokens) ?? [])];
    const depths = [...new Set(n.runs[0]?.cells.map((c) => c.depthPercent) ?? [])];
    svgs['induction-niah.svg'] = await renderSvg(niahHeatmapChart(n.runs));
    out.push(
      '### Needle in a haystack',
      '',
      `Needle "${n.needle.sentence}" in Paul Graham essay filler of ${sizes.join(', ')} tokens at depths ${depths.join(', ')} %; question "${n.needle.question}"; k = ${n.k}.`,
      '',
      markdownTable(
        ['setting', 'exact', 'EM', 'needle retrieved', 'needle kept'],
        n.runs.map((r) => {
          const c = r.cells.length;
          const exact = r.cells.filter((x) => x.exact).length;
          return [r.label, `${exact}/${c}`, fmt(exact / c), `${r.cells.filter((x) => x.retrieved).length}/${c}`, `${r.cells.filter((x) => x.kept).length}/${c}`];
        }),
      ),
      '',
      'A needle retrieved but not kept was dropped by compression: the probe-free `raw` scorer renormalises every head over the context, so heads ' +
        'that look only at the question (this model\'s positional heads) add attention on arbitrary context tokens (README, Models).',
      '',
      '![Needle-in-a-haystack heat map](img/induction-niah.svg)',
      '',
      'Settings answering exactly, by haystack size and needle depth:',
      '',
      markdownTable(
        ['tokens', ...depths.map((d) => `${d}%`)],
        sizes.map((t) => [String(t), ...depths.map((d) => `${n.runs.filter((r) => r.cells.find((c) => c.tokens === t && c.depthPercent === d)?.exact).length}/${n.runs.length}`)]),
      ),
      '',
      ...n.runs.flatMap((r) =>
        r.cells
          .filter((c) => !c.exact)
          .map((c) => `Miss: ${r.label}, ${c.tokens} tokens, depth ${c.depthPercent} %: answered ${JSON.stringify(c.answer)} (needle retrieved: ${c.retrieved}, kept: ${c.kept}).`),
      ),
      '',
      niahRec ? `Command: \`${niahRec.command}\` (${fmt(niahRec.seconds, 0)} s).` : '',
      '',
    );
  }
  return { markdown: out.join('\n'), svgs };
}
