// The ingestion workers moved to indexer/pipeline/IngestionWorkers.ts (they are the indexer pipeline's wiring);
// this re-export only keeps `rag ingest` compiling until its import is pointed there.
export { liveIngestionWorkers, startConfiguredIngestionWorkers } from '../../indexer/pipeline/IngestionWorkers.js';
