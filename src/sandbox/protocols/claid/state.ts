/**
 * claid's sandbox state: the batches (one JSON record each, kit/records.ts), the rate limiter,
 * the storages, the API calls left, the counters. A batch's status is computed when asked (kit
 * job clock: ACCEPTED → WAITING → (PAUSED) → PROCESSING, then DONE — or ERROR when an input could
 * not be fetched or decoded: one failing input fails the whole batch, with no results). The work
 * itself (fetch, read the header, make the output) runs in the background from the moment the
 * batch is accepted; the walk does not end before it is done.
 */
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BatchData, INPUT_MEDIA, LIMITS, MESSAGES, type ResultItem, STATUS } from '../../../providers/claid/contract.js';
import { sniff } from '../../../core/validate/sniff.js';
import { BufferSource } from '../../../core/validate/source.js';
import type { FetchFailure } from '../../kit/fetch.js';
import { type Phase, jobAt } from '../../kit/job-clock.js';
import type { SandboxCore } from '../../kit/protocol.js';
import { RateLimiter, parseRatePolicies } from '../../kit/rate-limit.js';
import { JsonRecords } from '../../kit/records.js';
import { inputObject, makeOutput, readImage } from './images.js';
import { Storages } from './storages.js';
import type { ClaidBatch, ClaidOptions, ClaidStats } from './types.js';

const WORKERS = 4;
const iso = (ms: number) => new Date(ms).toISOString();

function failureText(r: FetchFailure): string {
  switch (r.reason) {
    case 'status':
      return `HTTP ${r.status}`;
    case 'too-large':
      return MESSAGES.fileTooLarge(r.size);
    case 'not-allowed':
      return 'its host cannot be reached';
    default:
      return r.reason.replace(/-/g, ' ');
  }
}

export class ClaidState {
  readonly stats: ClaidStats = { rateLimited: 0, uploads: 0, batches: 0, callsCharged: 0, outOfCalls: 0 };
  readonly limiter: RateLimiter;
  readonly storages: Storages;
  private callsLeft: number;

  private constructor(
    readonly core: SandboxCore,
    readonly opts: ClaidOptions,
    private readonly records: JsonRecords<ClaidBatch>,
  ) {
    this.limiter = new RateLimiter(parseRatePolicies(opts.rateLimit), core.now);
    this.storages = new Storages(join(core.dataDir, 'claid', 'storages'));
    this.callsLeft = opts.apiCalls;
  }

  static async open(core: SandboxCore, opts: ClaidOptions): Promise<ClaidState> {
    const records = await JsonRecords.open<ClaidBatch>(join(core.dataDir, 'claid', 'batches'), {
      idOf: (b) => String(b.id),
      accept: (raw): raw is ClaidBatch => typeof (raw as ClaidBatch)?.id === 'number' && Array.isArray((raw as ClaidBatch).inputs),
      log: (line) => core.log(`claid: ${line}`),
    });
    const st = new ClaidState(core, opts, records);
    // Work a stopped sandbox left unfinished is done again.
    for (const b of records.values()) if (b.work === 'pending') core.track(st.process(b));
    return st;
  }

  get size(): number {
    return this.records.size;
  }

  batch(id: string): ClaidBatch | undefined {
    return this.records.get(id);
  }

  /** Charge `n` API calls; false (and nothing charged) when fewer are left. */
  charge(n: number): boolean {
    if (n > this.callsLeft) {
      this.stats.outOfCalls++;
      return false;
    }
    this.callsLeft -= n;
    this.stats.callsCharged += n;
    return true;
  }

  /** The images of a storage folder (or file), in input order: non-image files are skipped. */
  async folderInputs(uri: string, recursive: boolean): Promise<ClaidBatch['inputs']> {
    const folder = uri.endsWith('/');
    const out: ClaidBatch['inputs'] = [];
    for (const f of await this.storages.files(uri, recursive)) {
      const fh = await open(f.path, 'r');
      const head = Buffer.alloc(Math.min(f.size, 64 * 1024));
      try {
        await fh.read(head, 0, head.length, 0);
      } finally {
        await fh.close();
      }
      const { format } = await sniff(head, new BufferSource(head));
      if (format && INPUT_MEDIA[format]) out.push({ storage: folder ? `${uri}${f.rel}` : uri, name: f.rel });
    }
    return out;
  }

  async create(request: Record<string, unknown>, inputs: ClaidBatch['inputs']): Promise<ClaidBatch> {
    let id = 1;
    for (const b of this.records.values()) id = Math.max(id, b.id + 1);
    const b: ClaidBatch = { id, created_at: this.core.now(), request, inputs, work: 'pending', results: [] };
    this.stats.batches++;
    await this.records.put(b);
    this.core.track(this.process(b));
    return b;
  }

  /** What `GET /v1/image/edit/batch/{id}` answers at `now`. */
  view(b: ClaidBatch, now = this.core.now()): BatchData {
    const phases: Phase<string>[] = [
      { state: STATUS.accepted, ms: this.opts.queueMs },
      { state: STATUS.waiting, ms: this.opts.queueMs },
      ...(this.opts.pauseMs > 0 ? [{ state: STATUS.paused, ms: this.opts.pauseMs }] : []),
      { state: STATUS.processing, ms: Math.max(1, b.inputs.length) * this.core.processMsPerImage },
    ];
    const walk = jobAt(b.created_at, phases, STATUS.done, now);
    let status = walk.state;
    if (b.cancelled_at !== undefined) status = STATUS.cancelled;
    else if (walk.done) status = b.work === 'pending' ? STATUS.processing : b.work === 'failed' ? STATUS.error : STATUS.done;
    return {
      id: b.id,
      status,
      result_url: `${this.core.origin}/v1/image/edit/batch/${b.id}`,
      created_at: iso(b.created_at),
      request: b.request,
      errors: status === STATUS.error ? [{ error: b.error ?? 'failed', created_at: iso(b.failed_at ?? now) }] : [],
      results: status === STATUS.done ? b.results : [],
    };
  }

  /** Cancels a batch that has not finished (a test hook); false when there is none to cancel. */
  async cancel(id: string): Promise<boolean> {
    const b = this.records.get(id);
    if (!b || [STATUS.done, STATUS.error, STATUS.cancelled].includes(this.view(b).status as 'DONE')) return false;
    b.cancelled_at = this.core.now();
    await this.records.save(id);
    return true;
  }

  inspect(id: string): unknown {
    const m = /^claid-(\d+)$/.exec(id);
    const b = m ? this.records.get(m[1]!) : undefined;
    return b ? { protocol: 'claid', ...b, view: this.view(b) } : undefined;
  }

  close(): Promise<void> {
    return this.records.flush();
  }

  /** Fetch, read and edit every input (a few at a time); the first failure fails the batch. */
  private async process(b: ClaidBatch): Promise<void> {
    const results: ResultItem[] = new Array(b.inputs.length);
    let failure: string | undefined = b.inputs.length ? undefined : MESSAGES.noImages;
    let next = 0;
    const worker = async () => {
      while (!failure && next < b.inputs.length && !this.core.signal.aborted) {
        const i = next++;
        const r = await this.editOne(b, b.inputs[i]!);
        if ('problem' in r) failure ??= r.problem;
        else results[i] = r;
      }
    };
    await Promise.all(Array.from({ length: Math.min(WORKERS, b.inputs.length) }, worker));
    if (this.core.signal.aborted && !failure) return; // closing: done again at the next start
    if (failure) Object.assign(b, { work: 'failed', error: failure, failed_at: this.core.now() });
    else Object.assign(b, { work: 'done', results });
    await this.records.save(String(b.id)).catch(() => undefined);
  }

  private async editOne(b: ClaidBatch, input: ClaidBatch['inputs'][number]): Promise<ResultItem | { problem: string }> {
    const { core } = this;
    let path: string;
    let size: number;
    let sha256: string;
    if (input.url) {
      const r = await core.fetch.toStore(input.url, { maxBytes: LIMITS.maxFileSize });
      if (!r.ok) return { problem: MESSAGES.fetchFailed(input.url, failureText(r)) };
      ({ sha256, size } = await core.store.commit(r.ing));
      path = core.store.objectPath(sha256);
    } else {
      path = this.storages.pathOf(input.storage!)!;
      const bytes = await readFile(path);
      size = bytes.length;
      sha256 = createHash('sha256').update(bytes).digest('hex');
    }
    const decoded = await readImage(path, size);
    if ('problem' in decoded) return { problem: `${input.url ?? input.storage}: ${decoded.problem}` };
    core.stats.receipt(sha256);
    const request = b.request as { operations: Record<string, unknown>; output?: unknown };
    const out = await makeOutput(core, this.storages, { input: decoded, sha256, name: input.name, operations: request.operations, output: request.output });
    if ('problem' in out) return { problem: `${input.url ?? input.storage}: ${out.problem}` };
    return { input_object: inputObject(input.name, decoded), output_object: out };
  }
}
