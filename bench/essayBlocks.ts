import fs from 'node:fs';
import path from 'node:path';
import type { BlockSource, RenderedBlock } from '../generator/BlockRenderer.js';
import { encodePiece } from '../generator/PromptTemplate.js';
import { splitSentences } from '../indexer/text/SentenceSplitter.js';
import { buildTestModel } from '../model/builder/buildTestModel.js';
import type { DecoderModel } from '../model/DecoderModel.js';

/** Shared pieces of the model-side benchmarks (TTFT, compression): the bench model and the essay haystack. */

/** The smollm2-135m test shape (built on first use): the size the TTFT and compression targets refer to. */
export function ensureBenchModel(modelDir: string | undefined, log: (m: string) => void): string {
  const dir = path.resolve(modelDir ?? path.join('models', 'test', 'smollm2-135m'));
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    log(`building the smollm2-135m test model in ${dir}`);
    buildTestModel('smollm2-135m', dir);
  }
  return dir;
}

/** Sentence-aligned chunks of about `blockTokens` tokens from the essays, in file order, until `needTokens`. */
export function essayChunks(dataDir: string, model: DecoderModel, blockTokens: number, needTokens: number): BlockSource[] {
  const dir = path.join(dataDir, 'pg-essays');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.txt') && !f.startsWith('LICENSE')).sort();
  const chunks: BlockSource[] = [];
  let total = 0;
  for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    let group: { start: number; end: number }[] = [];
    let tokens = 0;
    const emit = (): void => {
      if (group.length === 0) return;
      const start = group[0]!.start;
      const end = group[group.length - 1]!.end;
      chunks.push({ chunkId: `${file}#${chunks.length}`, documentId: file, title: file.replace(/\.txt$/, ''), text: text.slice(start, end), start, sentences: group });
      total += tokens;
      group = [];
      tokens = 0;
    };
    for (const s of splitSentences(text)) {
      const n = encodePiece(model.tokenizer, text.slice(s.start, s.end)).length;
      if (tokens > 0 && tokens + n > blockTokens) emit();
      group.push(s);
      tokens += n;
    }
    emit();
    if (total >= needTokens) break;
  }
  return chunks;
}

/** The leading blocks that fit in `contextTokens` together with `fixedTokens` (prefix + question block). */
export function fitBlocks(blocks: readonly RenderedBlock[], contextTokens: number, fixedTokens: number): { rendered: RenderedBlock[]; promptTokens: number } {
  let promptTokens = fixedTokens;
  const rendered: RenderedBlock[] = [];
  for (const r of blocks) {
    if (promptTokens + r.tokens.length > contextTokens) break;
    rendered.push(r);
    promptTokens += r.tokens.length;
  }
  return { rendered, promptTokens };
}
