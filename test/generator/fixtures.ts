import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import type { BlockSource } from '../../generator/BlockRenderer.js';

/** Passages of a small invented collection (sentence spans from the project's splitter, in document offsets). */
export const DOCS: { id: string; title: string; text: string }[] = [
  {
    id: 'doc-river',
    title: 'The River Tamar',
    text: 'The river rises in the hills to the north of the town. It runs south for sixty miles and reaches the sea at the old port. Boats carried tin and copper down the river for centuries.',
  },
  {
    id: 'doc-bridge',
    title: 'Brunel Bridge',
    text: 'The railway bridge was finished in 1859. Its two great spans rest on a single central pier. The engineer did not live to see the first train cross it.',
  },
  {
    id: 'doc-market',
    title: '',
    text: 'A market has been held in the square every Saturday since the thirteenth century. Farmers bring cheese, apples and wool. The hall beside it was rebuilt after a fire.',
  },
  {
    id: 'doc-school',
    title: 'Grammar School',
    text: 'The grammar school opened with twelve pupils. Today it teaches nearly nine hundred children. Its library holds letters written by the founder.',
  },
];

/** A chunk covering a whole document, placed at `offset` in a (notional) longer document to exercise offsets. */
export function chunkOf(doc: { id: string; title: string; text: string }, offset = 0): BlockSource {
  return {
    chunkId: `${doc.id}#0`,
    documentId: doc.id,
    title: doc.title,
    text: doc.text,
    start: offset,
    sentences: splitSentences(doc.text).map((s) => ({ start: s.start + offset, end: s.end + offset })),
  };
}

export const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);
