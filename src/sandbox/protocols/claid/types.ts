/** claid's sandbox settings, counters and persisted records (apart from the definition, so declaration and code share them without a cycle). */
import type { ResultItem } from '../../../providers/claid/contract.js';

export interface ClaidOptions {
  /** The rate-limit policies, e.g. `120;w=60, 4;w=1` (per API key). */
  rateLimit: string;
  /** How long a batch stays ACCEPTED, then WAITING. */
  queueMs: number;
  /** How long a batch stays PAUSED between WAITING and PROCESSING (0: never paused). */
  pauseMs: number;
  /** The scopes every key has: `image_editing`, `storage` (without it the storage endpoints answer 403). */
  scopes: string[];
  /** API calls the account has left (each edited image costs one; then 402). */
  apiCalls: number;
}

/** What `stats.claid` counts. */
export interface ClaidStats {
  /** Requests refused by the rate limit (429). */
  rateLimited: number;
  /** Images edited through the upload endpoint. */
  uploads: number;
  /** Batches accepted. */
  batches: number;
  /** API calls charged (one per image). */
  callsCharged: number;
  /** Requests refused for want of API calls (402). */
  outOfCalls: number;
}

/** One batch, persisted as is (one JSON file each). */
export interface ClaidBatch {
  id: number;
  /** ms since epoch. */
  created_at: number;
  /** The request body as submitted. */
  request: Record<string, unknown>;
  /** What is processed: URLs, or the images of a storage folder (`storage://NAME/PATH`), in input order. */
  inputs: { url?: string; storage?: string; name: string }[];
  /** `pending` until every input is fetched and edited (or one failed). */
  work: 'pending' | 'done' | 'failed';
  results: ResultItem[];
  /** Why it failed (one input failing fails the batch). */
  error?: string;
  failed_at?: number;
  cancelled_at?: number;
}
