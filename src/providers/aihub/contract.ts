/**
 * The aihub wire contract (seed 002, protocols/aihub.md), shared by the client adapter and the
 * sandbox so both speak exactly the same paths, limits, states and messages. Every **ASSUMED**
 * choice of the contract (where the vendor's pages are silent) lives in this file and nowhere else.
 */
import { BatchupError } from '../../core/errors.js';

export const AIHUB_DEFAULT_ENDPOINT = 'https://aihub.instabase.com/api';

/** One URL path segment: RFC 3986 unreserved + sub-delims stay, everything else (incl. '/') is %-encoded. */
export const segment = (s: string | number): string => encodeURIComponent(String(s));

/** Paths relative to the API root (`--endpoint`, e.g. https://aihub.instabase.com/api). */
export const PATHS = {
  batches: '/v2/batches',
  batch: (id: string | number) => `/v2/batches/${segment(id)}`,
  files: (id: string | number) => `/v2/batches/${segment(id)}/files`,
  file: (id: string | number, name: string) => `/v2/batches/${segment(id)}/files/${segment(name)}`,
  multipart: '/v2/batches/multipart-upload',
  session: (sessionId: string) => `/v2/batches/multipart-upload/sessions/${segment(sessionId)}`,
  /** Relative to a session URL (the Location of the multipart start). */
  part: (n: number) => `/parts/${n}`,
  job: (jobId: string) => `/v2/batches/jobs/${segment(jobId)}`,
  /** The alternative job path the vendor also serves. */
  jobAlt: (jobId: string) => `/v2/jobs/${segment(jobId)}`,
  runs: '/v2/apps/runs',
  run: (runId: string) => `/v2/apps/runs/${segment(runId)}`,
  runResults: (runId: string) => `/v2/apps/runs/${segment(runId)}/results`,
} as const;

export const LIMITS = {
  /**
   * "Suggested max 10 MB" for a single PUT. ASSUMED: 10 MB means 10 × 1024 × 1024 bytes (the
   * vendor's example part_size is exactly that); a file of at most this size is PUT, a larger
   * one goes through a multipart session.
   */
  putMaxBytes: 10 * 1024 * 1024,
  /** Batch names and file names: at most 255 characters (vendor). */
  maxNameLength: 255,
  /**
   * ASSUMED: the vendor documents no upper bound for a multipart file; batchup refuses files over
   * 5 GiB before sending anything (a guard against uploading the wrong thing, not a vendor rule).
   */
  maxFileSize: 5 * 1024 * 1024 * 1024,
  /** The vendor's example part_size; the sandbox's default. A client always uses the server's value. */
  defaultPartSize: 10_485_760,
} as const;

/**
 * ASSUMED: a session takes its parts in order: part n + 1 only after part n was acknowledged
 * (the vendor calls part numbers "an increasing consecutive integer sequence" and never says parts
 * may be sent in parallel). A client gets parallelism across files, not within one session. A
 * part sent again (≤ the highest acknowledged + 1) is accepted and gets a new part_id.
 */
export const PARTS_IN_ORDER = true;

/** Part numbers and sizes of a file: every part is exactly part_size except the last. */
export function expectedParts(fileSize: number, partSize: number): number {
  return fileSize === 0 ? 1 : Math.ceil(fileSize / partSize);
}
export function expectedPartSize(fileSize: number, partSize: number, partNum: number): number {
  const n = expectedParts(fileSize, partSize);
  if (partNum < 1 || partNum > n) return -1;
  return partNum < n ? partSize : fileSize - (n - 1) * partSize;
}

/** A job is over in these states. */
export const JOB_DONE: ReadonlySet<string> = new Set(['COMPLETE', 'FAILED', 'CANCELLED']);

/**
 * ASSUMED: a run is still going only while RUNNING (or a not-yet-started PENDING/QUEUED, which
 * the vendor does not document but a client tolerates). PAUSED and STOPPED_AT_CHECKPOINT end the
 * wait: they need a person, and waiting for them would hang a cron job.
 */
export const RUN_ACTIVE: ReadonlySet<string> = new Set(['RUNNING', 'PENDING', 'QUEUED']);

/** The job id of a batch-delete answer: the contract's `job_id`, or the seed example's `job-id`. */
export function jobIdOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const v = b.job_id ?? b['job-id'] ?? b.jobId;
  return typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * ASSUMED: which remote file names batchup sends. The vendor says at most 255 characters and
 * "must include the file extension"; batchup also refuses names that cannot be one URL path
 * segment or one file in the batch's folder: '/', '\', control characters, '.'/'..', and leading
 * or trailing spaces. Returns the problem in words, or undefined when the name is fine.
 */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  const chars = [...name].length;
  if (chars > LIMITS.maxNameLength) return `the name is ${chars} characters long, over the limit of ${LIMITS.maxNameLength}`;
  if (name === '.' || name === '..') return `'${name}' is not a file name`;
  if (/[/\\]/.test(name)) return 'the name contains a path separator (/ or \\)';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains control characters';
  if (name.trim() !== name) return 'the name starts or ends with white space';
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return 'the name has no file extension (the API needs one)';
  return undefined;
}

/** An IB-Context value must be a valid header value: printable ASCII, no line breaks. */
export function checkIbContext(value: string, where: string): void {
  if (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value)) {
    throw new BatchupError('USAGE', `${where}: "${value}" is not a usable IB-Context (printable ASCII, no line breaks)`);
  }
}

/**
 * ASSUMED: a run's app is named by a UUID-like id or by name. `id:<x>` and `name:<x>` force
 * either; otherwise a value shaped like a UUID (or 24+ hex digits) is an app_id, anything else an
 * app_name.
 */
export function appRef(value: string): { app_id: string } | { app_name: string } {
  if (value.startsWith('id:')) return { app_id: value.slice(3) };
  if (value.startsWith('name:')) return { app_name: value.slice(5) };
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value) || /^[0-9a-f]{24,}$/i.test(value)) {
    return { app_id: value };
  }
  return { app_name: value };
}

/**
 * ASSUMED: creating a batch is not idempotent and has no client token. When a create request
 * failed without a clear answer (reset, timeout, 5xx) the batch may exist anyway: before trying
 * again a client lists the batches (same workspace) and adopts the newest one with exactly its
 * name created at most this long before its first attempt (clock skew allowance).
 */
export const ADOPT_WINDOW_MS = 120_000;

/**
 * Sandbox behaviour the vendor leaves open (ASSUMED; the client never relies on these values):
 * - batch ids count 1, 2, 3 …; lists are in id order; `limit`/`offset` slice it;
 * - file listings are sorted by name; `start_token` is opaque (the last name of the page before);
 *   `next_page_token` is null and `has_more` false on the last page;
 * - a PUT without Content-Length answers 411; any body size is taken (10 MB is only "suggested");
 * - the older multipart form `{path, file_size}`: `path` ends `<path_suffix>/<filename>` (the
 *   batch's drive folder) or `<batch id>/<filename>`;
 * - the commit answers 204; a session is forgotten after its commit or abort (then 404);
 * - a delete takes effect when its job completes; deleting a file the batch does not have is
 *   accepted (202) and the job ends FAILED;
 * - a run answers 200 with the run; over an empty batch it is FAILED at once; results list only
 *   the files the app has finished (all of them once COMPLETE), `resultsPageSize` per page.
 */
export const SANDBOX = {
  /** Default and maximum `page_size` of a file listing. */
  filesPageSize: 100,
  filesMaxPageSize: 1000,
  /** Files per page of run results: small, so paging really happens. */
  resultsPageSize: 10,
  /** A delete job stays PENDING this long, then RUNNING this long, then ends (and takes effect). */
  jobStepMs: 150,
  /** Least time a run spends RUNNING; each file adds processMsPerImage. */
  runMinMs: 200,
  /** Who the sandbox says owns what. */
  owner: 'sandbox_user',
  mountPoint: 'Instabase Drive',
  defaultWorkspace: 'sandbox_user',
} as const;

export const MESSAGES = {
  unauthorized: 'Unauthorized: missing or invalid token.',
  batchNotFound: (id: string) => `Batch ${id} does not exist, or denied access.`,
  nameRequired: 'name is required.',
  nameTooLong: `name must be at most ${LIMITS.maxNameLength} characters.`,
  invalidBody: (detail: string) => `Invalid request body: ${detail}.`,
  invalidFilename: (name: string) => `Invalid file name '${name}'.`,
  sessionNotFound: (id: string) => `Multipart upload session ${id} does not exist.`,
  /** ASSUMED text for the in-order rule. */
  partOutOfOrder: (got: number, expected: number) =>
    `Part ${got} is out of order: parts are an increasing consecutive sequence and part ${expected} comes next.`,
  partOutOfRange: (n: number, max: number) => `Part ${n} is out of range: the file has ${max} part(s).`,
  partWrongSize: (n: number, got: number, want: number) => `Part ${n} has ${got} bytes; expected ${want}.`,
  /** ASSUMED text. */
  commitIncomplete: (detail: string) => `The parts do not cover the file: ${detail}.`,
  badAction: `action must be "commit" or "abort".`,
  fileNotFound: (name: string) => `File ${name} not found in the batch.`,
  jobNotFound: (id: string) => `Job ${id} does not exist.`,
  runNotFound: (id: string) => `Run ${id} does not exist.`,
  runNeedsApp: 'One of app_name or app_id is required.',
  runNeedsInput: 'One of batch_id or input_dir is required.',
  /** ASSUMED: the sandbox has no drives to read an input_dir from. */
  inputDirUnsupported: 'input_dir is not available in the sandbox; use batch_id.',
  /** ASSUMED: a run over an empty batch fails. */
  runEmptyBatch: 'The batch has no files.',
  runComplete: 'Run completed.',
  jobComplete: 'Job completed.',
} as const;

// ---- wire types ----

export interface BatchInfo {
  id: number | string;
  name: string;
  workspace: string;
  mount_point: string;
  repo_owner: string;
  batch_owner: string;
  created_at_ms: number;
  updated_at_ms: number;
  path_suffix: string;
}

export interface FileNode {
  name: string;
  size: number;
  [k: string]: unknown;
}

export interface FilesPage {
  nodes: FileNode[];
  next_page_token?: string | null;
  has_more: boolean;
}

export interface SessionStart {
  session_id: string;
  part_size: number;
}

export interface PartAck {
  part_id: number | string;
  part_num: number;
}

export interface JobStatus {
  state: string;
  message?: string;
}

export interface RunInfo {
  id: string;
  status: string;
  start_timestamp?: number | null;
  finish_timestamp?: number | null;
  msg?: string | null;
  batch_id?: number | string | null;
  /** ASSUMED (sandbox extension, optional for a client): files done / in the run. */
  progress?: { completed: number; total: number };
  [k: string]: unknown;
}

export interface RunFileResult {
  original_file_name: string;
  documents: unknown[];
  [k: string]: unknown;
}

export interface RunResults {
  id: string;
  status: string;
  files: RunFileResult[];
  has_more: boolean;
}
