import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildTestModel, type BuildOptions } from '../../model/builder/buildTestModel.js';

/** Builds a preset into a fresh temp folder (each test file builds its own; `tiny` takes well under a second). */
export function buildTempModel(preset: string, opts: BuildOptions = {}, name = preset): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-model-'));
  const dir = path.join(root, name);
  buildTestModel(preset, dir, opts);
  return dir;
}

export function removeTempModel(dir: string): void {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}
