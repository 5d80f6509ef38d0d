import type { Config } from '../infra/config.js';
import type { RedisClient } from '../infra/redis.js';
import type { Authenticator } from './auth/Authenticator.js';
import type { Embedder } from '../indexer/embedding/Embedder.js';
import type { IngestionService } from '../indexer/pipeline/IngestionService.js';
import type { DocumentStore } from '../indexer/store/DocumentStore.js';
import type { IndexRegistry } from '../retriever/IndexRegistry.js';
import type { SearchService } from '../retriever/SearchService.js';

/** Everything a request handler may use; built once per process by services/bootstrap.ts. */
export interface ServiceContext {
  config: Config;
  redis: RedisClient;
  store: DocumentStore;
  ingestion: IngestionService;
  registry: IndexRegistry;
  embedder: Embedder;
  search: SearchService;
  auth: Authenticator;
}
