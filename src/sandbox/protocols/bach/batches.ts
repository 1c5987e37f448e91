/**
 * bach's state: the batches (persisted one file each, see kit/records.ts), the ids reserved by
 * submits still storing their files, and the status view a poll sees — items turn up processed
 * one after another, `processMsPerImage` each, from the batch's creation (kit/job-clock.ts).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ALLOWED_EXTENSIONS, MESSAGES, STATUS, extensionOf, type StatusData, type StatusResult } from '../../../providers/bach/contract.js';
import { stepsDone } from '../../kit/job-clock.js';
import { extFromContentType, sniffExt } from '../../kit/media.js';
import type { SandboxCore } from '../../kit/protocol.js';
import { JsonRecords } from '../../kit/records.js';

type ItemKind = 'file' | 'zip-entry' | 'zip' | 'base64' | 'url';

/** One result of a batch (a file, a ZIP entry, an async item). Persisted as is. */
export interface BachItem {
  /** Zero-based position in the submitted `files` / `images`. */
  index: number;
  image_name: string;
  kind: ItemKind;
  /** The URL to fetch, for URL items. */
  source_url?: string;
  sha256?: string;
  size?: number;
  ext?: string;
  error_message?: string;
  /** False only while a URL item has not been fetched yet. */
  done: boolean;
}

export interface BachBatch {
  batch_id: string;
  created_at: number;
  path: 'submit-with-files' | 'submit';
  /** `total_count` of the submit response: entries in `files` / `images`. */
  submitted_count: number;
  items: BachItem[];
}

const IMAGE_EXTS = ALLOWED_EXTENSIONS.filter((e) => e !== 'zip') as readonly string[];

const stored = (it: BachItem): it is BachItem & { sha256: string } => !!it.sha256 && it.done && !it.error_message;

export class BachBatches {
  private readonly reserved = new Set<string>();

  private constructor(
    private readonly core: SandboxCore,
    private readonly records: JsonRecords<BachBatch>,
    /** Fetches the URL items of a batch in the background, then saves it. */
    private readonly fetchUrls: (batch: BachBatch) => Promise<void>,
  ) {}

  static async open(core: SandboxCore, fetchUrls: (batch: BachBatch) => Promise<void>): Promise<BachBatches> {
    const records = await JsonRecords.open<BachBatch>(join(core.dataDir, 'bach', 'batches'), {
      idOf: (b) => b.batch_id,
      accept: (raw): raw is BachBatch => typeof (raw as BachBatch)?.batch_id === 'string' && Array.isArray((raw as BachBatch).items),
      log: (line) => core.log(`bach: ${line}`),
    });
    const batches = new BachBatches(core, records, fetchUrls);
    for (const b of records.values()) {
      for (const it of b.items) if (stored(it)) core.stats.receipt(it.sha256);
      if (b.items.some((it) => !it.done)) core.track(batches.fetchUrlsThenSave(b));
    }
    return batches;
  }

  get size(): number {
    return this.records.size;
  }

  get(id: string): BachBatch | undefined {
    return this.records.get(id);
  }

  /** Taken by a stored batch or by a submit that is storing its files right now. */
  idTaken(id: string): boolean {
    return this.records.has(id) || this.reserved.has(id);
  }

  newId(): string {
    let id: string;
    do id = randomBytes(8).toString('hex');
    while (this.idTaken(id));
    return id;
  }

  /** Holds `id` while a submit commits its files (a second submit of the same id is refused meanwhile). */
  reserve(id: string): void {
    this.reserved.add(id);
  }

  release(id: string): void {
    this.reserved.delete(id);
  }

  /** A new batch: counted, persisted, its URL items fetched in the background. */
  async register(batch: BachBatch): Promise<void> {
    this.reserved.delete(batch.batch_id);
    for (const it of batch.items) if (stored(it)) this.core.stats.receipt(it.sha256);
    await this.records.put(batch);
    if (batch.items.some((it) => !it.done)) this.core.track(this.fetchUrlsThenSave(batch));
  }

  /** What `GET /status/:id` answers at `now`. */
  view(batch: BachBatch, now = this.core.now()): StatusData {
    const results: StatusResult[] = [];
    let ok = 0;
    let failed = 0;
    const due = stepsDone(batch.created_at, this.core.processMsPerImage, batch.items.length, now);
    batch.items.forEach((it, k) => {
      if (!it.done || k >= due) return;
      if (it.error_message || !it.sha256) {
        failed++;
        results.push({ index: it.index, image_name: it.image_name, status: STATUS.failed, error_message: it.error_message ?? MESSAGES.urlFailed });
      } else {
        ok++;
        results.push({ index: it.index, image_name: it.image_name, image_url: this.core.cdnUrl(it.sha256, it.ext ?? ''), status: STATUS.succeeded });
      }
    });
    const processed = ok + failed;
    const total = batch.items.length;
    return {
      batch_id: batch.batch_id,
      total_count: total,
      processed_count: processed,
      success_count: ok,
      failed_count: failed,
      status: processed === 0 && total > 0 ? STATUS.pending : processed < total ? STATUS.processing : STATUS.succeeded,
      results,
    };
  }

  inspect(id: string): unknown {
    const b = this.records.get(id);
    if (!b) return undefined;
    return {
      protocol: 'bach',
      ...b,
      items: b.items.map((it) => ({ ...it, image_url: it.sha256 ? this.core.cdnUrl(it.sha256, it.ext ?? '') : undefined })),
      process_ms_per_image: this.core.processMsPerImage,
      status: this.view(b),
    };
  }

  close(): Promise<void> {
    return this.records.flush();
  }

  private async fetchUrlsThenSave(batch: BachBatch): Promise<void> {
    await this.fetchUrls(batch);
    await this.records.save(batch.batch_id).catch(() => undefined);
  }
}

/** CDN extension: the name's image extension, else the URL's, else the Content-Type's, else sniffed. */
export function pickExt(name: string, head: Buffer, url?: string, contentType?: string): string {
  const fromName = extensionOf(name);
  if (IMAGE_EXTS.includes(fromName)) return fromName;
  if (url) {
    try {
      const fromUrl = extensionOf(new URL(url).pathname);
      if (IMAGE_EXTS.includes(fromUrl)) return fromUrl;
    } catch {
      /* ignore */
    }
  }
  return extFromContentType(contentType) ?? sniffExt(head) ?? 'bin';
}
