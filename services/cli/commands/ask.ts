import type { Command } from 'commander';
import { loadConfig } from '../../../infra/config.js';

interface AskOptions {
  collection: string;
  url?: string;
  k: string;
  mode?: string;
  maxTokens?: string;
  json: boolean;
}

/** `rag ask`: a question to a running service, answer streamed to stdout as it is generated (an extractive answer arrives whole). */
export function registerAskCommand(program: Command): void {
  program
    .command('ask <question>')
    .description('ask a running service (see --url) a question over a collection; tokens stream to stdout')
    .requiredOption('-c, --collection <name>', 'collection to retrieve from')
    .option('--url <url>', 'service base URL (default http://127.0.0.1:$PORT)')
    .option('-k <n>', 'chunks to retrieve', '5')
    .option('--mode <mode>', 'full | blocks | extractive (the best retrieved sentence, no generator); default blocks, or extractive when the service has no generator')
    .option('--max-tokens <n>', 'largest answer length in tokens')
    .option('--json', 'print the whole response as JSON instead of streaming', false)
    .action(async (question: string, opts: AskOptions) => {
      const base = opts.url ?? `http://127.0.0.1:${loadConfig().PORT}`;
      const body = {
        collection: opts.collection,
        question,
        k: Number(opts.k),
        ...(opts.mode ? { mode: opts.mode } : {}),
        ...(opts.maxTokens ? { maxTokens: Number(opts.maxTokens) } : {}),
        stream: !opts.json,
      };
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (process.env.RAG_API_KEY) headers.authorization = `Bearer ${process.env.RAG_API_KEY}`;
      const res = await fetch(`${base}/v1/ask`, { method: 'POST', headers, body: JSON.stringify(body) }).catch((err: Error) => {
        const cause = (err.cause as { code?: string; message?: string } | undefined) ?? {};
        throw new Error(`cannot reach the service at ${base} (${cause.code ?? cause.message ?? err.message}): start it with \`npm start\`, or pass --url`);
      });
      if (!res.ok) {
        const err = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
        throw new Error(`${res.status}: ${err.error?.message ?? res.statusText}`);
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(await res.json(), null, 2)}\n`);
        return;
      }
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(part, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as Record<string, any>;
          if (event === 'token' || event === 'answer') process.stdout.write(String(data.text));
          else if (event === 'error') throw new Error(data.error?.message ?? 'stream error');
          else if (event === 'done') {
            process.stdout.write('\n');
            const cites = (data.citations as { documentId: string; start: number; end: number }[]).map((c) => `${c.documentId}[${c.start}:${c.end}]`);
            if (data.fallback) process.stderr.write(`note: ${data.fallback}\n`);
            if (data.answerSpan) process.stderr.write(`short answer: ${data.answerSpan.text}\n`);
            process.stderr.write(`mode: ${data.mode}\nsources: ${cites.join(', ')}\ntimings: ${JSON.stringify(data.timings)}\n`);
          }
        }
      }
    });
}
