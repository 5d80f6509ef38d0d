import type { ApiClient } from './http.js';

/**
 * Questions whose answers from the built test model run to at least `minTokens` (its weights are random, so
 * greedy decoding stops at a stop token after a length that depends on the question). Tests that need an ask
 * to stay busy, or a stream to outgrow its buffers, pick them here instead of hoping.
 */
export async function longAnswerQuestions(client: ApiClient, collection: string, minTokens: number, want: number, headers: Record<string, string> = {}): Promise<string[]> {
  const found: string[] = [];
  for (let i = 0; i < 12 && found.length < want; i++) {
    const question = `what colour is record ${i}?`;
    const a = await client.call('POST', '/v1/ask', { collection, question, maxTokens: minTokens }, headers);
    if (a.status !== 200) throw new Error(`ask failed while picking questions: ${a.status} ${JSON.stringify(a.body)}`);
    if (a.body.finishReason === 'length') found.push(question);
  }
  if (found.length === 0) throw new Error(`no question among 12 gets an answer of ${minTokens} tokens from the built model`);
  return found;
}
