/**
 * The aihub HTTP client: one method per endpoint of the contract, credentials (added by
 * core/http.ts) and the optional IB-Context header on every request, and the server's
 * `{"message": ...}` surfaced in every error. Used by the upload adapter and by the `batches` /
 * `runs` commands.
 *
 * URLs the server hands out (a session's or a job's Location) are followed only when they point
 * at the API's own origin. Otherwise the id is taken from the URL's last path segment and the
 * documented path is used.
 */
import type { Readable } from 'node:stream';
import { BatchupError } from '../../core/errors.js';
import { type Http, httpError, type SendResponse } from '../../core/http.js';
import type { PartBody } from '../../core/parts.js';
import { PATHS, jobIdOf, type BatchInfo, type FilesPage, type JobStatus, type PartAck, type RunInfo, type RunResults, type SessionStart } from './contract.js';

export interface AihubApiOptions {
  http: Http;
  /** API root, e.g. https://aihub.instabase.com/api (paths start /v2/). */
  endpoint: string;
  /** Sent as IB-Context on every request when set. */
  ibContext?: string;
}

export interface Session {
  /** Absolute URL of the session (commit/abort here, parts below it). */
  url: string;
  id: string;
  partSize: number;
}

export interface ListBatchesQuery {
  workspace?: string;
  username?: string;
  limit?: number;
  offset?: number;
}

export type RunRequest = ({ app_name: string } | { app_id: string }) & {
  batch_id?: number | string;
  input_dir?: string;
  owner?: string;
  version?: string;
  output_workspace?: string;
  output_dir?: string;
  settings?: Record<string, unknown>;
};

type Body = string | Buffer | Readable | AsyncIterable<Uint8Array>;

export class AihubApi {
  readonly root: string;
  private readonly origin: string;

  constructor(private readonly o: AihubApiOptions) {
    this.root = o.endpoint.replace(/\/+$/, '');
    this.origin = new URL(this.root).origin;
  }

  url(path: string): string {
    return this.root + path;
  }

  /** The API URL of a file in a batch (what the manifest records as its `url`). */
  fileUrl(batchId: string | number, name: string): string {
    return this.url(PATHS.file(batchId, name));
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.o.ibContext) h['ib-context'] = this.o.ibContext;
    return h;
  }

  private async call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    what: string,
    opts: { json?: unknown; body?: Body; length?: number; signal?: AbortSignal } = {},
  ): Promise<SendResponse> {
    const extra: Record<string, string> = {};
    let body: Body | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      extra['content-type'] = 'application/json';
    } else if (body !== undefined) {
      extra['content-type'] = 'application/octet-stream';
    }
    if (body !== undefined) extra['content-length'] = String(opts.length ?? Buffer.byteLength(body as string | Buffer));
    const res = await this.o.http.send({ method, url, headers: this.headers(extra), body, auth: true, signal: opts.signal });
    if (res.status >= 200 && res.status < 300) return res;
    throw errorOf(res, what);
  }

  /** A server-given URL, if it is on our own origin (else undefined). */
  private sameOrigin(location: string | string[] | undefined): string | undefined {
    const v = Array.isArray(location) ? location[0] : location;
    if (!v) return undefined;
    try {
      const u = new URL(v, `${this.root}/`);
      return u.origin === this.origin ? u.href.replace(/\/+$/, '') : undefined;
    } catch {
      return undefined;
    }
  }

  // ---- batches ----

  async createBatch(name: string, workspace: string | undefined, signal?: AbortSignal): Promise<{ id: string }> {
    const res = await this.call('POST', this.url(PATHS.batches), 'create batch', { json: workspace ? { name, workspace } : { name }, signal });
    const body = parseJson<{ id?: unknown }>(res, 'create batch');
    if (typeof body.id !== 'number' && typeof body.id !== 'string') throw protocol('create batch', 'the answer has no batch id');
    return { id: String(body.id) };
  }

  /** A batch, or undefined when the server does not know it (404). */
  async getBatch(id: string, signal?: AbortSignal): Promise<BatchInfo | undefined> {
    try {
      const res = await this.call('GET', this.url(PATHS.batch(id)), `get batch ${id}`, { signal });
      return parseJson<BatchInfo>(res, 'get batch');
    } catch (err) {
      if (err instanceof BatchupError && err.status === 404) return undefined;
      throw err;
    }
  }

  async listBatches(q: ListBatchesQuery = {}, signal?: AbortSignal): Promise<BatchInfo[]> {
    const params = new URLSearchParams();
    if (q.workspace) params.set('workspace', q.workspace);
    if (q.username) params.set('username', q.username);
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    if (q.offset !== undefined) params.set('offset', String(q.offset));
    const qs = params.toString();
    const res = await this.call('GET', this.url(PATHS.batches) + (qs ? `?${qs}` : ''), 'list batches', { signal });
    const body = parseJson<{ batches?: unknown }>(res, 'list batches');
    if (!Array.isArray(body.batches)) throw protocol('list batches', 'the answer has no "batches" list');
    return body.batches as BatchInfo[];
  }

  async listFiles(id: string, q: { pageSize?: number; startToken?: string } = {}, signal?: AbortSignal): Promise<FilesPage> {
    const params = new URLSearchParams();
    if (q.pageSize !== undefined) params.set('page_size', String(q.pageSize));
    if (q.startToken) params.set('start_token', q.startToken);
    const qs = params.toString();
    const res = await this.call('GET', this.url(PATHS.files(id)) + (qs ? `?${qs}` : ''), `list files of batch ${id}`, { signal });
    const body = parseJson<FilesPage>(res, 'list files');
    if (!Array.isArray(body.nodes)) throw protocol('list files', 'the answer has no "nodes" list');
    return { nodes: body.nodes, next_page_token: body.next_page_token ?? null, has_more: Boolean(body.has_more) };
  }

  /** Every file of a batch, page by page (start_token / next_page_token). */
  async *allFiles(id: string, pageSize?: number, signal?: AbortSignal): AsyncGenerator<FilesPage['nodes'][number]> {
    let token: string | undefined;
    for (let pages = 0; pages < 1_000_000; pages++) {
      const page = await this.listFiles(id, { pageSize, startToken: token }, signal);
      yield* page.nodes;
      if (!page.has_more || !page.next_page_token) return;
      token = page.next_page_token;
    }
  }

  async putFile(id: string, name: string, body: { length: number; open(): AsyncIterable<Uint8Array> }, signal?: AbortSignal): Promise<void> {
    await this.call('PUT', this.fileUrl(id, name), `upload ${name}`, { body: body.open(), length: body.length, signal });
  }

  // ---- multipart ----

  async startSession(batchId: string, filename: string, fileSize: number, signal?: AbortSignal): Promise<Session> {
    const numeric = /^\d+$/.test(batchId) ? Number(batchId) : batchId;
    const res = await this.call('POST', this.url(PATHS.multipart), `start multipart upload of ${filename}`, {
      json: { batch_id: numeric, filename, file_size: fileSize },
      signal,
    });
    const body = parseJson<Partial<SessionStart>>(res, 'start multipart upload');
    const partSize = Number(body.part_size);
    if (!Number.isSafeInteger(partSize) || partSize <= 0) throw protocol('start multipart upload', `bad part_size ${String(body.part_size)}`);
    const fromLocation = this.sameOrigin(res.headers.location);
    const id = body.session_id !== undefined ? String(body.session_id) : fromLocation?.split('/').pop();
    if (!id) throw protocol('start multipart upload', 'neither a session_id nor a Location');
    return { url: fromLocation ?? this.url(PATHS.session(id)), id, partSize };
  }

  async putPart(session: Pick<Session, 'url'>, partNum: number, body: PartBody, signal?: AbortSignal): Promise<PartAck> {
    const res = await this.call('PUT', session.url + PATHS.part(partNum), `upload part ${partNum}`, { body: body.stream, length: body.length, signal });
    const ack = parseJson<Partial<PartAck>>(res, `upload part ${partNum}`);
    if (ack.part_id === undefined || ack.part_id === null) throw protocol(`upload part ${partNum}`, 'the answer has no part_id');
    if (ack.part_num !== undefined && Number(ack.part_num) !== partNum) {
      throw protocol(`upload part ${partNum}`, `the server acknowledged part ${String(ack.part_num)}`);
    }
    return { part_id: ack.part_id, part_num: partNum };
  }

  async commitSession(session: Pick<Session, 'url'>, parts: PartAck[], signal?: AbortSignal): Promise<void> {
    const sorted = [...parts].sort((a, b) => a.part_num - b.part_num).map((p) => ({ part_num: p.part_num, part_id: p.part_id }));
    await this.call('POST', session.url, 'commit multipart upload', { json: { action: 'commit', parts: sorted }, signal });
  }

  async abortSession(session: Pick<Session, 'url'>, signal?: AbortSignal): Promise<void> {
    await this.call('POST', session.url, 'abort multipart upload', { json: { action: 'abort' }, signal });
  }

  // ---- deletes and jobs ----

  async deleteBatch(id: string, signal?: AbortSignal): Promise<{ jobId: string; jobUrl: string }> {
    const res = await this.call('DELETE', this.url(PATHS.batch(id)), `delete batch ${id}`, { signal });
    return this.jobOf(res, `delete batch ${id}`);
  }

  async deleteFile(id: string, name: string, signal?: AbortSignal): Promise<{ jobId: string; jobUrl: string }> {
    const res = await this.call('DELETE', this.fileUrl(id, name), `delete ${name} from batch ${id}`, { signal });
    return this.jobOf(res, `delete ${name}`);
  }

  /** The job of a 202: `job_id` / `job-id` in the body, or the Location header. */
  private jobOf(res: SendResponse, what: string): { jobId: string; jobUrl: string } {
    let body: unknown;
    try {
      body = res.text.trim() ? JSON.parse(res.text) : undefined;
    } catch {
      body = undefined;
    }
    const fromBody = jobIdOf(body);
    const loc = Array.isArray(res.headers.location) ? res.headers.location[0] : res.headers.location;
    const own = this.sameOrigin(loc);
    const fromLoc = loc ? decodeLast(loc) : undefined;
    const jobId = fromBody ?? fromLoc;
    if (!jobId) throw protocol(what, 'the answer names no job (no job_id, job-id or Location)');
    return { jobId, jobUrl: own && (!fromBody || fromBody === fromLoc) ? own : this.url(PATHS.job(jobId)) };
  }

  async getJob(job: { jobId: string; jobUrl?: string }, signal?: AbortSignal): Promise<JobStatus> {
    const res = await this.call('GET', job.jobUrl ?? this.url(PATHS.job(job.jobId)), `job ${job.jobId}`, { signal });
    const body = parseJson<Partial<JobStatus>>(res, `job ${job.jobId}`);
    if (typeof body.state !== 'string') throw protocol(`job ${job.jobId}`, 'the answer has no state');
    return { state: body.state.toUpperCase(), message: typeof body.message === 'string' ? body.message : undefined };
  }

  // ---- runs ----

  async startRun(req: RunRequest, signal?: AbortSignal): Promise<RunInfo> {
    const res = await this.call('POST', this.url(PATHS.runs), 'start app run', { json: req, signal });
    return checkRun(parseJson<RunInfo>(res, 'start app run'), 'start app run');
  }

  async getRun(runId: string, signal?: AbortSignal): Promise<RunInfo> {
    const res = await this.call('GET', this.url(PATHS.run(runId)), `run ${runId}`, { signal });
    return checkRun(parseJson<RunInfo>(res, `run ${runId}`), `run ${runId}`);
  }

  async getRunResults(runId: string, fileOffset: number, signal?: AbortSignal): Promise<RunResults> {
    const res = await this.call('GET', `${this.url(PATHS.runResults(runId))}?file_offset=${fileOffset}`, `results of run ${runId}`, { signal });
    const body = parseJson<RunResults>(res, `results of run ${runId}`);
    if (!Array.isArray(body.files)) throw protocol(`results of run ${runId}`, 'the answer has no "files" list');
    return { ...body, has_more: Boolean(body.has_more) };
  }
}

function decodeLast(url: string): string | undefined {
  try {
    const last = new URL(url, 'http://x.invalid/').pathname.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last) : undefined;
  } catch {
    return undefined;
  }
}

function checkRun(run: RunInfo, what: string): RunInfo {
  if (run.id === undefined || run.id === null || typeof run.status !== 'string') throw protocol(what, 'the answer has no run id or status');
  return { ...run, id: String(run.id), status: run.status.toUpperCase() };
}

function protocol(what: string, detail: string): BatchupError {
  return new BatchupError('PROTOCOL', `aihub ${what}: unexpected answer: ${detail}`, { retryable: false });
}

function parseJson<T>(res: SendResponse, what: string): T {
  try {
    const v = JSON.parse(res.text) as unknown;
    if (v && typeof v === 'object') return v as T;
  } catch {
    /* below */
  }
  throw protocol(what, `not a JSON object (HTTP ${res.status}): ${res.text.slice(0, 120)}`);
}

/** The server's own message of an error answer. */
export function serverMessage(res: SendResponse): string {
  try {
    const v = JSON.parse(res.text) as { message?: unknown };
    if (typeof v?.message === 'string' && v.message) return v.message;
  } catch {
    /* not JSON */
  }
  return res.text.slice(0, 200).trim() || `HTTP ${res.status}`;
}

/** A non-2xx answer as a BatchupError: 404 NOT_FOUND, 401/403 AUTH, retryable 408/409/429/5xx. */
export function errorOf(res: SendResponse, what: string): BatchupError {
  const message = `aihub ${what} failed (HTTP ${res.status}): ${serverMessage(res)}`;
  if (res.status === 404) return new BatchupError('NOT_FOUND', message, { status: 404, retryable: false });
  return httpError(res, message);
}
