import { createHash } from 'node:crypto';
import type { PreTrainedTokenizer } from '@huggingface/transformers';

export interface PromptTemplateOptions {
  systemPrompt?: string;
  /** Instruction placed before the passages, in the user turn. */
  instruction?: string;
  /** Words before the question in the final block. */
  questionLabel?: string;
}

export const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant that answers questions from the documents you are given.';
export const DEFAULT_INSTRUCTION = 'Answer the question using only the passages below. If they do not contain the answer, say so.';

// Sentinels are plain ASCII that no template escapes or rewrites; they mark where the passages and question go.
const CONTEXT_SENTINEL = '@@RAG_CONTEXT_SENTINEL@@';
const QUESTION_SENTINEL = '@@RAG_QUESTION_SENTINEL@@';

/**
 * The model's chat template cut into the three pieces block attention needs: a shared PREFIX (system turn and
 * the start of the user turn with the instruction), position-independent passage BLOCKS (a header with a stable
 * label, then the passage text), and a FINAL block (question, end of the user turn, assistant cue). The split
 * points come from rendering the template with sentinels, so any chat template that places the user content
 * verbatim works, not only ChatML.
 */
export class PromptTemplate {
  private constructor(
    readonly prefixText: string,
    /** Text of the final block around the question: finalBefore + question + finalAfter. */
    private readonly finalBefore: string,
    private readonly finalAfter: string,
    /** sha256 (hex) of the rendered pieces: part of every cache key. */
    readonly id: string,
  ) {}

  static fromTokenizer(tokenizer: PreTrainedTokenizer, opts: PromptTemplateOptions = {}): PromptTemplate {
    const system = opts.systemPrompt ?? DEFAULT_SYSTEM_PROMPT;
    const instruction = opts.instruction ?? DEFAULT_INSTRUCTION;
    const questionLabel = opts.questionLabel ?? 'Question:';
    const user = `${instruction}${CONTEXT_SENTINEL}\n\n${questionLabel} ${QUESTION_SENTINEL}`;
    const render = (messages: { role: string; content: string }[]): string =>
      tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) as unknown as string;
    let rendered: string;
    try {
      rendered = render([
        { role: 'system', content: system },
        { role: 'user', content: user },
      ]);
    } catch {
      // Some templates (e.g. Gemma's) refuse a system role: fold it into the user turn.
      rendered = render([{ role: 'user', content: `${system}\n\n${user}` }]);
    }
    if (typeof rendered !== 'string') throw new Error('chat template did not render to a string');
    const c = rendered.indexOf(CONTEXT_SENTINEL);
    const q = rendered.indexOf(QUESTION_SENTINEL);
    if (c < 0 || q < c || rendered.indexOf(CONTEXT_SENTINEL, c + 1) >= 0 || rendered.indexOf(QUESTION_SENTINEL, q + 1) >= 0) {
      throw new Error('the chat template does not place the user message verbatim exactly once; cannot split it into prefix/blocks/final');
    }
    const prefixText = rendered.slice(0, c);
    const finalBefore = rendered.slice(c + CONTEXT_SENTINEL.length, q);
    const finalAfter = rendered.slice(q + QUESTION_SENTINEL.length);
    const id = createHash('sha256')
      .update(JSON.stringify({ v: 1, prefixText, block: PromptTemplate.blockHeader('{label}'), finalBefore, finalAfter }))
      .digest('hex');
    return new PromptTemplate(prefixText, finalBefore, finalAfter, id);
  }

  /**
   * A block's header: the separator from whatever precedes it, then a stable label line. Putting the separator
   * first lets the passage's own tokens end the block, so sentence token ranges cover the block to its end.
   */
  static blockHeader(label: string): string {
    return `\n\nDocument: ${label.replace(/\s+/g, ' ').trim()}\n`;
  }

  /** The final block: question and the assistant cue, ending where the answer starts. */
  finalText(question: string): string {
    return `${this.finalBefore}${question.trim()}${this.finalAfter}`;
  }
}

/** Token ids of a piece of rendered prompt (special tokens in the text are recognised; none are added). */
export function encodePiece(tokenizer: PreTrainedTokenizer, text: string): number[] {
  return Array.from(tokenizer.encode(text, { add_special_tokens: false }));
}
