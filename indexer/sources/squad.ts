import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** SQuAD v1.1 as typed data. Paragraph ids are `<article-index>-<paragraph-index>`: stable for a given file and readable in reports. */
export interface SquadAnswer {
  text: string;
  answer_start: number;
}

export interface SquadQuestion {
  id: string;
  question: string;
  answers: SquadAnswer[];
}

export interface SquadParagraph {
  id: string;
  context: string;
  qas: SquadQuestion[];
}

export interface SquadArticle {
  title: string;
  paragraphs: SquadParagraph[];
}

export interface SquadDataset {
  version: string;
  articles: SquadArticle[];
}

/** A question flattened with where it comes from, the unit that retrieval evaluation iterates over. */
export interface SquadQuery extends SquadQuestion {
  articleIndex: number;
  paragraphId: string;
}

const AnswerSchema = z.object({ text: z.string(), answer_start: z.number().int().min(0) });
const FileSchema = z.object({
  version: z.string().default(''),
  data: z.array(
    z.object({
      title: z.string(),
      paragraphs: z.array(
        z.object({
          context: z.string(),
          qas: z.array(z.object({ id: z.string(), question: z.string(), answers: z.array(AnswerSchema) })),
        }),
      ),
    }),
  ),
});

export function paragraphId(articleIndex: number, paragraphIndex: number): string {
  return `${articleIndex}-${paragraphIndex}`;
}

/** Validate parsed SQuAD JSON (official layout) and attach paragraph ids. */
export function parseSquad(json: unknown): SquadDataset {
  const parsed = FileSchema.parse(json);
  return {
    version: parsed.version,
    articles: parsed.data.map((a, ai) => ({
      title: a.title,
      paragraphs: a.paragraphs.map((p, pi) => ({ id: paragraphId(ai, pi), context: p.context, qas: p.qas })),
    })),
  };
}

export async function loadSquad(file: string): Promise<SquadDataset> {
  return parseSquad(JSON.parse(await readFile(file, 'utf8')));
}

/** Human-readable article title: SQuAD titles use underscores for spaces. */
export function displayTitle(title: string): string {
  return title.replace(/_/g, ' ');
}

export function allParagraphs(ds: SquadDataset): (SquadParagraph & { articleIndex: number; title: string })[] {
  return ds.articles.flatMap((a, articleIndex) => a.paragraphs.map((p) => ({ ...p, articleIndex, title: a.title })));
}

export function allQueries(ds: SquadDataset): SquadQuery[] {
  return ds.articles.flatMap((a, articleIndex) =>
    a.paragraphs.flatMap((p) => p.qas.map((q) => ({ ...q, articleIndex, paragraphId: p.id }))),
  );
}
