import type { DocumentStore } from '../indexer/store/DocumentStore.js';
import { CollectionIndex } from './CollectionIndex.js';

/**
 * One CollectionIndex per collection in this process. Catch-ups are serialised per collection and
 * coalesced: a caller always waits for a catch-up that started after it asked, so a write that was
 * acknowledged before a search is visible to that search.
 */
export class IndexRegistry {
  private readonly indexes = new Map<string, Promise<CollectionIndex>>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Promise<void>>();

  constructor(
    private readonly store: DocumentStore,
    private readonly snapshotRoot: string,
    private readonly ef?: number,
  ) {}

  /** The collection's index, current with every change committed before this call; null if it has no embedder yet. */
  async current(collection: string): Promise<CollectionIndex | null> {
    const index = await this.open(collection);
    if (!index) return null;
    await this.catchUp(collection, index);
    return index;
  }

  /**
   * The collection's index as last caught up, without asking Redis for changes: for a reader that follows a search
   * of the same request (which just caught it up); null when not loaded yet.
   */
  caughtUp(collection: string): CollectionIndex | null {
    return this.settled.get(collection) ?? null;
  }

  loaded(): CollectionIndex[] {
    return [...this.settled.values()];
  }

  private readonly settled = new Map<string, CollectionIndex>();

  private async open(collection: string): Promise<CollectionIndex | null> {
    let p = this.indexes.get(collection);
    if (!p) {
      const embedder = await this.store.collectionEmbedder(collection);
      if (!embedder) return null;
      p = CollectionIndex.open(collection, embedder.dim, this.store, this.snapshotRoot, this.ef);
      this.indexes.set(collection, p);
      p.then((ix) => this.settled.set(collection, ix)).catch(() => this.indexes.delete(collection));
    }
    return p;
  }

  private catchUp(collection: string, index: CollectionIndex): Promise<void> {
    const queued = this.queued.get(collection);
    if (queued) return queued;
    const prev = this.running.get(collection) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(async () => {
        this.queued.delete(collection);
        this.running.set(collection, next);
        try {
          await index.catchUp();
        } finally {
          if (this.running.get(collection) === next) this.running.delete(collection);
        }
      });
    this.queued.set(collection, next);
    return next;
  }

  /** Forget a collection (after it was deleted or its snapshot replaced on disk). */
  drop(collection: string): void {
    this.indexes.delete(collection);
    this.settled.delete(collection);
  }
}
