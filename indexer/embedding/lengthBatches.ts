/**
 * Group texts into batches of similar length. Embedders that pad a batch to its longest text waste
 * work on mixed lengths, so sorting first keeps each batch's padding small. Returns batches of
 * original indices; callers write results back by index, which restores the input order.
 */
export function lengthBatches(texts: readonly string[], batchSize: number): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length || a - b);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}
