import { validateResponse } from './openapiValidator.js';
import { waitUntil } from './processes.js';

/**
 * A small JSON client for the service under test (real HTTP over loopback). Every response is checked
 * against the service's OpenAPI document (route, status, body and stream events); a mismatch fails the test.
 */
export class ApiClient {
  constructor(readonly base: string) {}

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(this.base + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    validateResponse(method, this.base + path, res.status, res.headers.get('content-type'), text);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* keep the raw text */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  post<T = any>(path: string, body: unknown) {
    return this.call<T>('POST', path, body);
  }
  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }
  delete<T = any>(path: string) {
    return this.call<T>('DELETE', path);
  }
}

/**
 * Waits over the public API (GET /v1/jobs/{id}) until every job id reports `completed`, failing at once on a
 * failed one; checks in slices to keep the request count bounded. Code with a Redis connection waits with
 * IngestionService.waitFor (queue events) instead.
 */
export async function waitForJobs(client: ApiClient, jobIds: string[], timeoutMs: number, headers: Record<string, string> = {}): Promise<void> {
  const pending = new Set(jobIds);
  await waitUntil(
    async () => {
      for (const id of [...pending].slice(0, 200)) {
        const s = await client.call('GET', `/v1/jobs/${id}`, undefined, headers);
        if (s.body?.state === 'failed') throw new Error(`job ${id} failed: ${JSON.stringify(s.body)}`);
        if (s.body?.state === 'completed') pending.delete(id);
      }
      return pending.size === 0;
    },
    timeoutMs,
    `${jobIds.length} ingestion jobs`,
    500,
  );
}
