/**
 * Redis key layout. Every per-collection key carries the collection in a hash tag `{c}`, so a
 * collection's keys share one cluster slot and multi-key transactions keep working on Redis Cluster.
 */
export const PREFIX = 'rag';

export const keys = {
  collections: () => `${PREFIX}:collections`,
  meta: (c: string) => `${PREFIX}:{${c}}:meta`,
  docs: (c: string) => `${PREFIX}:{${c}}:docs`,
  doc: (c: string, id: string) => `${PREFIX}:{${c}}:doc:${id}`,
  tombstone: (c: string, id: string) => `${PREFIX}:{${c}}:deleted:${id}`,
  chunks: (c: string) => `${PREFIX}:{${c}}:chunks`,
  chunk: (c: string, id: string) => `${PREFIX}:{${c}}:chunk:${id}`,
  log: (c: string) => `${PREFIX}:{${c}}:log`,
  versionCounter: (c: string) => `${PREFIX}:{${c}}:version`,
  snapshotLock: (c: string) => `${PREFIX}:{${c}}:snapshot-lock`,
};

/** Names that are safe as key parts, file names and URL segments. */
export const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const DOCUMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
