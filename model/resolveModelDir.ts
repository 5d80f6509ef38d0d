import fs from 'node:fs';
import path from 'node:path';
import { DomainError } from '../infra/errors.js';

/** The configured model is not on disk: the service cannot generate until it is provided. */
export class ModelNotFoundError extends DomainError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** True when `s` looks like a Hugging Face hub id (`org/name`). */
export function isHubId(s: string): boolean {
  return HUB_ID.test(s) && !s.includes('..');
}

function isModelDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json'));
}

/**
 * Resolves a model reference to a local Hugging Face-layout directory: an absolute path, or a hub id /
 * relative path (`test/tiny`) under MODELS_DIR. Nothing is downloaded here; a missing model is an error
 * that says how to provide one.
 */
export function resolveModelDir(idOrPath: string, modelsDir: string): string {
  const candidates = path.isAbsolute(idOrPath) ? [idOrPath] : [path.resolve(modelsDir, idOrPath)];
  for (const dir of candidates) if (isModelDir(dir)) return dir;
  const where = candidates[0];
  const hints = [
    isHubId(idOrPath) ? `download it: \`rag models pull ${idOrPath}\` (needs network access to the Hugging Face hub)` : null,
    `or build a local test model: \`rag models build-test tiny --out ${path.join(modelsDir, 'test', 'tiny')}\` and use "test/tiny"`,
  ].filter((h): h is string => h !== null);
  throw new ModelNotFoundError(`model "${idOrPath}" not found (no config.json in ${where}); ${hints.join(', ')}`);
}
