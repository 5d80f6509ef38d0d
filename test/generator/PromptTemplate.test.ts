import { DecoderModel } from '../../model/DecoderModel.js';
import { PromptTemplate, encodePiece } from '../../generator/PromptTemplate.js';
import { renderBlock } from '../../generator/BlockRenderer.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf } from './fixtures.js';

describe('PromptTemplate and BlockRenderer on the built tiny model (ChatML template)', () => {
  let dir: string;
  let model: DecoderModel;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 3 });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it('prefix + blocks + final is exactly the chat template rendered with the whole user message', () => {
    const t = PromptTemplate.fromTokenizer(model.tokenizer, { systemPrompt: 'Be brief.', instruction: 'Use the passages.' });
    const blocks = PromptTemplate.blockHeader('A') + 'alpha.' + PromptTemplate.blockHeader('B') + 'beta.';
    const user = `Use the passages.${blocks}\n\nQuestion: What is alpha?`;
    const expected = model.tokenizer.apply_chat_template(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: user },
      ],
      { tokenize: false, add_generation_prompt: true },
    ) as unknown as string;
    expect(t.prefixText + blocks + t.finalText('What is alpha?')).toBe(expected);
    expect(t.prefixText).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nUse the passages.');
    expect(t.finalText('What is alpha?').endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    // Special tokens in the rendered pieces are single ids.
    const imStart = encodePiece(model.tokenizer, '<|im_start|>');
    expect(imStart.length).toBe(1);
    expect(encodePiece(model.tokenizer, t.prefixText)[0]).toBe(imStart[0]);
    expect(encodePiece(model.tokenizer, t.prefixText).filter((id) => id === imStart[0]).length).toBe(2);
  });

  it('template id is a stable hash of the rendered pieces', () => {
    const a = PromptTemplate.fromTokenizer(model.tokenizer);
    const b = PromptTemplate.fromTokenizer(model.tokenizer);
    const c = PromptTemplate.fromTokenizer(model.tokenizer, { systemPrompt: 'Something else.' });
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
    expect(a.id).toBe(b.id);
    expect(c.id).not.toBe(a.id);
  });

  it('a block is header tokens then sentence tokens whose ranges decode to the document sentences', () => {
    const offset = 1000;
    for (const doc of DOCS) {
      const chunk = chunkOf(doc, offset);
      const r = renderBlock(model.tokenizer, chunk);
      const label = doc.title || doc.id;
      expect(r.label).toBe(label);
      expect(model.tokenizer.decode(r.tokens.slice(0, r.headerLength))).toBe(PromptTemplate.blockHeader(label));
      expect(model.tokenizer.decode(r.tokens)).toBe(PromptTemplate.blockHeader(label) + doc.text);
      expect(r.sentences.length).toBe(chunk.sentences.length);
      expect(r.sentences.length).toBeGreaterThan(2);
      let at = r.headerLength;
      for (const [i, s] of r.sentences.entries()) {
        expect(s.tokenStart).toBe(at);
        expect(s.tokenEnd).toBeGreaterThan(s.tokenStart);
        expect([s.charStart, s.charEnd]).toEqual([chunk.sentences[i].start, chunk.sentences[i].end]);
        const sentenceText = doc.text.slice(s.charStart - offset, s.charEnd - offset);
        // The tokens of a sentence carry the whitespace before it, and nothing of its neighbours.
        expect(model.tokenizer.decode(r.tokens.slice(s.tokenStart, s.tokenEnd)).trim()).toBe(sentenceText);
        at = s.tokenEnd;
      }
      expect(at).toBe(r.tokens.length);
    }
  });

  it('the label never depends on position: the same chunk renders the same tokens', () => {
    const a = renderBlock(model.tokenizer, chunkOf(DOCS[0]));
    const b = renderBlock(model.tokenizer, chunkOf(DOCS[0]));
    expect(b.tokens).toEqual(a.tokens);
    expect(model.tokenizer.decode(a.tokens)).not.toMatch(/\[\d+\]/);
  });
});
