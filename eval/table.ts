/**
 * Plain-text and Markdown tables from string cells. Hand-written (a few lines of padding) rather than a table
 * package: the same rows feed the terminal output of `rag eval` and the Markdown of docs/BENCHMARKS.md, and
 * neither needs borders, wrapping or colours. Numeric-looking cells are right-aligned.
 */
const NUMERIC = /^[-+]?(\d[\d,]*(\.\d+)?|\.\d+)(e[-+]?\d+)?\s*(%|ms|s|x)?$/i;

const isNumeric = (s: string): boolean => NUMERIC.test(s.trim());

export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[], alignNumbers: boolean): string =>
    widths
      .map((w, c) => {
        const v = cells[c] ?? '';
        return alignNumbers && isNumeric(v) ? v.padStart(w) : v.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(header, false), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(r, true))].join('\n');
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const numericCol = header.map((_, c) => rows.length > 0 && rows.every((r) => isNumeric(r[c] ?? '') || (r[c] ?? '') === '—'));
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((_, c) => (numericCol[c] ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${header.map((_, c) => esc(r[c] ?? '')).join(' | ')} |`),
  ].join('\n');
}

/** Fixed decimals, or an em dash for a missing / non-finite value. */
export function fmt(v: number | null | undefined, decimals = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(decimals) : '—';
}
