import fs from 'node:fs/promises';
import path from 'node:path';
import { allParagraphs, displayTitle, parseSquad } from './squad.js';
import type { NewDocument } from '../pipeline/IngestionService.js';
import { DocumentRecord, duplicateIds, recordProblems, toNewDocument } from './DocumentRules.js';

/** A record as read, before validation, with where it came from (`file:line`, `file[3]`, a file in a folder). */
interface SourcedRecord {
  where: string;
  record: unknown;
}

/** Input that breaks the document rules: every problem, each naming its file and line or index. */
export class DocumentSourceError extends Error {
  static readonly SHOWN = 20;
  constructor(readonly problems: string[]) {
    const shown = problems.slice(0, DocumentSourceError.SHOWN);
    const more = problems.length - shown.length;
    super(`${problems.length === 1 ? 'invalid input' : `${problems.length} problems in the input`}; nothing was ingested:\n${shown.map((p) => `  ${p}`).join('\n')}${more > 0 ? `\n  ... and ${more} more` : ''}`);
    this.name = 'DocumentSourceError';
  }
}

/**
 * Reads documents for batch ingestion from a plain-text file, a folder of .txt/.md files, a JSONL
 * file of `{id?, title?, text, metadata?}` records, a JSON array of such records, or a SQuAD file
 * (each paragraph becomes a document titled with its article). Every record is checked against the
 * same rules as the HTTP API's (DocumentRules); any problem rejects the whole input, as a bad document
 * rejects a whole HTTP batch.
 */
export async function readDocuments(input: string): Promise<NewDocument[]> {
  const records = await readRecords(input);
  const problems: string[] = [];
  const docs: NewDocument[] = [];
  for (const { where, record } of records) {
    const found = recordProblems(record);
    if (found.length) problems.push(...found.map((p) => `${where}: ${p}`));
    else docs.push(toNewDocument(DocumentRecord.parse(record)));
  }
  if (!problems.length) {
    for (const d of duplicateIds(docs.map((d) => d.id))) {
      problems.push(`${records[d.index]!.where}: id ${d.id} appears more than once (first at ${records[d.first]!.where})`);
    }
  }
  if (problems.length) throw new DocumentSourceError(problems);
  return docs;
}

async function readRecords(input: string): Promise<SourcedRecord[]> {
  const stat = await fs.stat(input).catch(() => {
    throw new DocumentSourceError([`${input}: no such file or folder`]);
  });
  if (stat.isDirectory()) return readFolder(input);
  const ext = path.extname(input).toLowerCase();
  const raw = await fs.readFile(input, 'utf8');
  if (ext === '.jsonl' || ext === '.ndjson') {
    const out: SourcedRecord[] = [];
    const bad: string[] = [];
    raw.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const where = `${input}:${i + 1}`;
      try {
        out.push({ where, record: JSON.parse(line) });
      } catch (e) {
        bad.push(`${where}: invalid JSON (${(e as Error).message})`);
      }
    });
    if (bad.length) throw new DocumentSourceError(bad);
    return out;
  }
  if (ext === '.json') {
    const json = parseJson(raw, input);
    if (json && typeof json === 'object' && 'data' in json) {
      return allParagraphs(parseSquad(json)).map((p) => ({
        where: `${input} (paragraph ${p.id})`,
        record: { id: p.id, title: displayTitle(p.title), text: p.context, metadata: { article: p.articleIndex } },
      }));
    }
    if (Array.isArray(json)) return json.map((record, i) => ({ where: `${input}[${i}]`, record }));
    throw new DocumentSourceError([`${input}: expected a SQuAD file or a JSON array of documents`]);
  }
  const name = path.basename(input);
  return [{ where: input, record: { id: safeId(name), title: name, text: raw, metadata: { source: name } } }];
}

async function readFolder(dir: string): Promise<SourcedRecord[]> {
  const out: SourcedRecord[] = [];
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries.sort((a, b) => path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)))) {
    if (!e.isFile() || !/\.(txt|md|markdown)$/i.test(e.name)) continue;
    const full = path.join(e.parentPath, e.name);
    const rel = path.relative(dir, full);
    const text = await fs.readFile(full, 'utf8');
    // Empty files in a folder are skipped rather than refused: a folder is taken as it is.
    if (text.trim()) out.push({ where: full, record: { id: safeId(rel), title: e.name.replace(/\.[^.]+$/, ''), text, metadata: { source: rel } } });
  }
  return out;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DocumentSourceError([`${where}: invalid JSON (${(e as Error).message})`]);
  }
}

/** A document id from a file path: the allowed characters only, readable, bounded. */
export function safeId(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  return s || 'doc';
}
