import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomicSync } from '../infra/atomicWrite.js';

/**
 * The attention basin of one setup: how much attention the question puts on each of k block slots,
 * normalised to sum to 1. Stored as JSON files under DATA_DIR/profiles (one per model, attention mode,
 * template and k), so they travel with the data directory and need no Redis to read at start-up.
 */
export interface ProfileKey {
  modelId: string;
  attentionMode: string;
  templateId: string;
  k: number;
}

export const ProfileSchema = z.object({
  format: z.literal('basin-profile/1'),
  modelId: z.string().min(1),
  attentionMode: z.string().min(1),
  templateId: z.string().min(1),
  k: z.number().int().positive(),
  /** Per slot, sums to 1. */
  values: z.array(z.number().nonnegative()),
  layers: z.array(z.number().int().nonnegative()),
  prompts: z.number().int().positive(),
  seed: z.number().int(),
  createdAt: z.string(),
});

export type BasinProfile = z.infer<typeof ProfileSchema>;

/** One file per key; components are escaped so hub ids (with slashes) stay one readable path segment. */
function fileNameFor(key: ProfileKey): string {
  const esc = (s: string): string => encodeURIComponent(s).replace(/%/g, '~');
  return `${esc(key.modelId)}__${esc(key.attentionMode)}__${esc(key.templateId)}__k${key.k}.json`;
}

export class ProfileStore {
  constructor(readonly dir: string) {}

  static forDataDir(dataDir: string): ProfileStore {
    return new ProfileStore(path.join(dataDir, 'profiles'));
  }

  pathFor(key: ProfileKey): string {
    return path.join(this.dir, fileNameFor(key));
  }

  save(profile: BasinProfile): string {
    const parsed = ProfileSchema.parse(profile);
    if (parsed.values.length !== parsed.k) throw new Error(`profile has ${parsed.values.length} values for k=${parsed.k}`);
    fs.mkdirSync(this.dir, { recursive: true });
    const file = this.pathFor(parsed);
    writeFileAtomicSync(file, JSON.stringify(parsed, null, 2) + '\n');
    return file;
  }

  /** The profile for exactly this key, or null when none was calibrated. */
  load(key: ProfileKey): BasinProfile | null {
    const file = this.pathFor(key);
    if (!fs.existsSync(file)) return null;
    const p = ProfileSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (p.modelId !== key.modelId || p.attentionMode !== key.attentionMode || p.templateId !== key.templateId || p.k !== key.k || p.values.length !== key.k) {
      throw new Error(`${file} does not hold the profile for ${JSON.stringify(key)}`);
    }
    return p;
  }

  /** Every stored profile (for the dashboard curve). */
  list(): BasinProfile[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ProfileSchema.parse(JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8'))));
  }
}
