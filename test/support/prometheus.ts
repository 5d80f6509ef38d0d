import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  families: PromFamily[];
  family(name: string): PromFamily;
  /** Every sample of one series name (e.g. `x_count`), labels included. */
  series(name: string): Sample[];
  /** The one sample of `name` whose labels include `labels`, or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

/**
 * Parses Prometheus text with parse-prometheus-text-format (which rejects malformed lines and gives types and
 * help). That package folds a labelled histogram's buckets into one map and drops its labels, so histogram
 * series (`_bucket`, `_sum`, `_count`) are read from a second pass with the TYPE lines left out, as plain samples.
 */
export function parseExposition(text: string): Exposition {
  const families = parsePrometheusTextFormat(text);
  const plain = parsePrometheusTextFormat(
    text
      .split('\n')
      .filter((l) => !l.startsWith('# TYPE '))
      .join('\n'),
  );
  const byName = new Map<string, Sample[]>();
  for (const f of plain) {
    const list = byName.get(f.name) ?? [];
    for (const m of f.metrics) list.push({ labels: m.labels ?? {}, value: Number(m.value) });
    byName.set(f.name, list);
  }
  const series = (name: string) => byName.get(name) ?? [];
  return {
    families,
    family(name) {
      const f = families.find((x) => x.name === name);
      if (!f) throw new Error(`metric ${name} missing from the exposition`);
      return f;
    },
    series,
    value(name, labels = {}) {
      return series(name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    },
  };
}
