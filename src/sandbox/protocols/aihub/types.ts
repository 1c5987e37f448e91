/** aihub's settings, counters and persisted records (apart from the definition, so code and declaration share them without a cycle). */

/** Sandbox settings of aihub (`protocolOptions.aihub`, or the `--aihub-*` flags). */
export interface AihubOptions {
  /** The part_size the server picks for multipart sessions. */
  partSize: number;
  /** Files per page of run results. */
  resultsPageSize: number;
  /** Default page_size of a file listing. */
  filesPageSize: number;
  /** How long a delete job stays PENDING, then RUNNING. */
  jobStepMs: number;
}

/** What `/_sandbox/aihub` and `stats.aihub` count. */
export interface AihubStats {
  /** IB-Context header values of every request ('' = none). */
  contexts: Record<string, number>;
  partsReceived: number;
  partsOutOfOrder: number;
  sessionsStarted: number;
  sessionsCommitted: number;
  sessionsAborted: number;
}

export interface AihubFile {
  name: string;
  sha256: string;
  size: number;
  /** Extension for /cdn URLs. */
  ext: string;
  detected_type: string;
  via: 'put' | 'multipart';
  updated_at_ms: number;
}

export interface AihubBatch {
  id: number;
  name: string;
  workspace: string;
  created_at_ms: number;
  updated_at_ms: number;
  path_suffix: string;
  files: Record<string, AihubFile>;
  /** IB-Context values of requests that addressed this batch ('' = none). */
  contexts: Record<string, number>;
}
