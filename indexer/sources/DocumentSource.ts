import fs from 'node:fs/promises';
import path from 'node:path';
import { allParagraphs, displayTitle, parseSquad } from './squad.js';
import type { NewDocument } from '../pipeline/IngestionService.js';

/**
 * Reads documents for batch ingestion from a plain-text file, a folder of .txt/.md files, a JSONL
 * file of `{id?, title?, text, metadata?}` records, a JSON array of such records, or a SQuAD file
 * (each paragraph becomes a document titled with its article).
 */
export async function readDocuments(input: string): Promise<NewDocument[]> {
  const stat = await fs.stat(input);
  if (stat.isDirectory()) return readFolder(input);
  const ext = path.extname(input).toLowerCase();
  const raw = await fs.readFile(input, 'utf8');
  if (ext === '.jsonl' || ext === '.ndjson') {
    return raw
      .split('\n')
      .map((line, i) => [line.trim(), i] as const)
      .filter(([line]) => line.length > 0)
      .map(([line, i]) => fromRecord(parseJson(line, `${input}:${i + 1}`), `${input}:${i + 1}`));
  }
  if (ext === '.json') {
    const json = parseJson(raw, input);
    if (json && typeof json === 'object' && 'data' in json) {
      return allParagraphs(parseSquad(json)).map((p) => ({ id: p.id, title: displayTitle(p.title), text: p.context, metadata: { article: p.articleIndex } }));
    }
    if (Array.isArray(json)) return json.map((r, i) => fromRecord(r, `${input}[${i}]`));
    throw new Error(`${input}: expected a SQuAD file or a JSON array of documents`);
  }
  return [{ id: safeId(path.basename(input)), title: path.basename(input), text: raw, metadata: { source: path.basename(input) } }];
}

async function readFolder(dir: string): Promise<NewDocument[]> {
  const out: NewDocument[] = [];
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries.sort((a, b) => path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)))) {
    if (!e.isFile() || !/\.(txt|md|markdown)$/i.test(e.name)) continue;
    const full = path.join(e.parentPath, e.name);
    const rel = path.relative(dir, full);
    const text = await fs.readFile(full, 'utf8');
    if (text.trim()) out.push({ id: safeId(rel), title: e.name.replace(/\.[^.]+$/, ''), text, metadata: { source: rel } });
  }
  return out;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
  }
}

function fromRecord(r: unknown, where: string): NewDocument {
  if (!r || typeof r !== 'object') throw new Error(`${where}: expected an object`);
  const o = r as Record<string, unknown>;
  if (typeof o.text !== 'string' || !o.text.trim()) throw new Error(`${where}: "text" must be a non-empty string`);
  const id = typeof o.id === 'string' ? o.id : undefined;
  return {
    id: id ?? '',
    title: typeof o.title === 'string' ? o.title : '',
    text: o.text,
    metadata: o.metadata && typeof o.metadata === 'object' ? (o.metadata as Record<string, unknown>) : {},
  };
}

/** A document id from a file path: the allowed characters only, readable, bounded. */
export function safeId(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  return s || 'doc';
}
