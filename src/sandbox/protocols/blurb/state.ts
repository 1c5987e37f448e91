/**
 * blurb's batches on the sandbox: records on disk (kit/records.ts), each render's state computed
 * from the clock (kit/job-clock.ts) — PENDING → COLLECTING_ASSETS → RENDERING → COMPLETED — held
 * in COLLECTING_ASSETS until the assets were fetched and checked, FAILED with a message when the
 * audio is not MP3 or an artwork not a square PNG/JPEG. While a batch runs, a ticker posts its
 * webhooks (per render from COLLECTING_ASSETS on and at 50 %, one per batch at the end).
 */
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ASSET_FIELDS,
  type AssetKind,
  artworkPolicy,
  audioPolicy,
  type BatchRecord,
  type BatchWebhook,
  isFinal,
  LIMITS,
  MESSAGES,
  RENDER_STATUS,
  type RenderRecord,
  type RenderWebhook,
} from '../../../providers/blurb/contract.js';
import { inspect } from '../../../core/validate/index.js';
import { FileSource, Problem } from '../../../core/validate/source.js';
import { jobAt } from '../../kit/job-clock.js';
import { sniffExt } from '../../kit/media.js';
import type { SandboxCore } from '../../kit/protocol.js';
import { JsonRecords } from '../../kit/records.js';

const TICK_MS = 50;

export interface BlurbSandboxOptions {
  /** How long one render walks from PENDING to COMPLETED (the later renders of a batch a little longer). */
  renderMs: number;
}

export interface StoredBatch {
  batchId: string;
  ref?: string;
  created: number;
  artistId: string;
  mediaBundleId?: string;
  mediaId: string;
  webhookUrl?: string;
  renders: { renderId: string; contentId: string; aspectRatio: string; fileName: string }[];
  assetUrls: { field: string; url: string; kind: AssetKind }[];
  assets: { state: 'checking' | 'ok' | 'failed'; message?: string; at?: number };
}

export interface BlurbStats {
  batchesCreated: number;
  rendersCreated: number;
  dryRuns: number;
  refused: number;
  /** GET /v1/batches/:id per batch id (tests: how a client waited). */
  gets: Record<string, number>;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'render';

export class BlurbState {
  readonly counters: BlurbStats = { batchesCreated: 0, rendersCreated: 0, dryRuns: 0, refused: 0, gets: {} };
  /** When each batch was asked about, and which webhooks it sent (for tests: GETs only after webhooks). */
  readonly trace = new Map<string, { gets: number[]; webhooks: { at: number; type: string; status: string }[] }>();
  private readonly tickers = new Map<string, NodeJS.Timeout>();
  private readonly sent = new Map<string, string>();

  private constructor(
    readonly core: SandboxCore,
    readonly opts: BlurbSandboxOptions,
    readonly records: JsonRecords<StoredBatch>,
  ) {}

  static async open(core: SandboxCore, opts: BlurbSandboxOptions): Promise<BlurbState> {
    const records = await JsonRecords.open<StoredBatch>(join(core.dataDir, 'blurb', 'batches'), {
      idOf: (b) => b.batchId,
      accept: (raw): raw is StoredBatch => !!raw && typeof (raw as StoredBatch).batchId === 'string' && Array.isArray((raw as StoredBatch).renders),
      log: core.log,
    });
    const st = new BlurbState(core, opts, records);
    // After a restart: unfinished checks run again, unfinished batches post their webhooks again.
    for (const b of records.values()) {
      if (b.assets.state === 'checking') core.track(st.checkAssets(b));
      if (!st.view(b).renders.every((r) => isFinal(r.status))) st.startTicker(b);
    }
    return st;
  }

  traceOf(id: string) {
    let t = this.trace.get(id);
    if (!t) this.trace.set(id, (t = { gets: [], webhooks: [] }));
    return t;
  }

  /** A new batch from a checked body. */
  async create(body: Record<string, unknown>): Promise<StoredBatch> {
    const id = (prefix: string, v: unknown, named: unknown) =>
      typeof v === 'string' ? v : named && typeof named === 'object' ? `${prefix}-${randomUUID().slice(0, 8)}` : undefined;
    const media = body.media as Record<string, unknown> | undefined;
    const name = typeof media?.name === 'string' ? media.name : 'render';
    const renders = (body.renders as Record<string, Record<string, unknown> | undefined>[]).map((r, i) => ({
      renderId: `render-${randomUUID()}`,
      contentId: String(r.contentId),
      aspectRatio: String(r.videoSettings?.aspectRatio ?? '16x9'),
      fileName: `${slug(name)}-${i + 1}.mp4`,
    }));
    const assetUrls: StoredBatch['assetUrls'] = [];
    for (const f of ASSET_FIELDS) {
      const url = f.path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), body);
      if (typeof url === 'string') assetUrls.push({ field: f.path.join('.'), url, kind: f.kind });
    }
    const b: StoredBatch = {
      batchId: `batch-${randomUUID()}`,
      ...(typeof body.ref === 'string' ? { ref: body.ref } : {}),
      created: this.core.now(),
      artistId: id('artist', body.artistId ?? body.artist, body.artist) ?? 'artist',
      mediaBundleId: id('media-bundle', body.mediaBundleId, body.mediaBundle),
      mediaId: id('media', body.mediaId, body.media) ?? 'media',
      ...(typeof body.webhookUrl === 'string' ? { webhookUrl: body.webhookUrl } : {}),
      renders,
      assetUrls,
      assets: { state: 'checking' },
    };
    await this.records.put(b);
    this.counters.batchesCreated++;
    this.counters.rendersCreated += renders.length;
    this.core.track(this.checkAssets(b));
    this.startTicker(b);
    return b;
  }

  /** Fetches every asset as the vendor would and checks it; the renders fail when one is wrong. */
  async checkAssets(b: StoredBatch): Promise<void> {
    let message: string | undefined;
    for (const a of b.assetUrls) {
      message = await this.checkAsset(a);
      if (message || this.core.signal.aborted) break;
    }
    if (this.core.signal.aborted) return;
    b.assets = { state: message ? 'failed' : 'ok', ...(message ? { message } : {}), at: this.core.now() };
    await this.records.save(b.batchId);
  }

  private async checkAsset(a: StoredBatch['assetUrls'][number]): Promise<string | undefined> {
    const audio = a.kind === 'audio';
    const r = await this.core.fetch.toStore(a.url, { maxBytes: audio ? LIMITS.maxAudioBytes : LIMITS.maxArtworkBytes });
    if (!r.ok) return MESSAGES.assetUnreachable(a.field, r.reason === 'status' ? `HTTP ${r.status}` : r.reason);
    const fh = await open(r.ing.path, 'r');
    try {
      const src = await FileSource.open(fh, r.ing.size, 64 * 1024);
      // The name claims what the field must hold: a WAV behind an audio URL is a disguised MP3.
      const name = audio ? 'audio.mp3' : `artwork.${sniffExt(src.head) ?? 'png'}`;
      const shape = await inspect(src, src.head, name, audio ? audioPolicy : artworkPolicy);
      if (!audio && shape.width !== shape.height) return MESSAGES.badArtwork(a.field, `${shape.width}×${shape.height}, not square`);
      return undefined;
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      return audio ? MESSAGES.notMp3(err.detail) : MESSAGES.badArtwork(a.field, err.detail);
    } finally {
      await fh.close();
      await this.core.store.discard(r.ing);
    }
  }

  /** A render at `now`: where its walk is, held in COLLECTING_ASSETS until the assets are checked. */
  renderAt(b: StoredBatch, i: number, now: number): RenderRecord {
    const r = b.renders[i]!;
    const ms = this.opts.renderMs;
    const phases = [
      { state: RENDER_STATUS.pending, ms: Math.round(ms * 0.1) },
      { state: RENDER_STATUS.collecting, ms: Math.round(ms * 0.2) },
      { state: RENDER_STATUS.rendering, ms: Math.round(ms * 0.7 * (1 + i * 0.25)) },
    ];
    const collected = b.created + phases[0]!.ms + phases[1]!.ms;
    const total = phases.reduce((n, p) => n + p.ms, 0);
    const held = Math.max(0, Math.floor((100 * (collected - b.created)) / Math.max(1, total)) - 1);
    let state: string;
    let progress: number;
    const shift = b.assets.state === 'checking' ? Infinity : Math.max(0, (b.assets.at ?? 0) - collected);
    if (now < collected) ({ state, progress } = jobAt(b.created, phases, RENDER_STATUS.completed, now));
    else if (now < collected + shift) [state, progress] = [RENDER_STATUS.collecting, held];
    else if (b.assets.state === 'failed') [state, progress] = [RENDER_STATUS.failed, held];
    else ({ state, progress } = jobAt(b.created + shift, phases, RENDER_STATUS.completed, now));
    const message =
      state === RENDER_STATUS.failed
        ? (b.assets.message ?? 'Render failed.')
        : state === RENDER_STATUS.completed
          ? MESSAGES.completed
          : state === RENDER_STATUS.rendering
            ? MESSAGES.rendering
            : state === RENDER_STATUS.collecting
              ? MESSAGES.collecting
              : 'Waiting to start.';
    return {
      renderId: r.renderId,
      batchId: b.batchId,
      contentId: r.contentId,
      ...(b.ref ? { ref: b.ref } : {}),
      status: state,
      progress,
      message,
      aspectRatio: r.aspectRatio,
      fileName: r.fileName,
      createdAt: new Date(b.created).toISOString(),
      renderUrl: state === RENDER_STATUS.completed ? `${this.core.origin}/renders/${r.renderId}.mp4` : '',
      thumbnailUrl: '',
    };
  }

  view(b: StoredBatch, now = this.core.now()): BatchRecord {
    const renders = b.renders.map((_, i) => this.renderAt(b, i, now));
    const final = renders.every((r) => isFinal(r.status));
    const started = renders.some((r) => r.status !== RENDER_STATUS.pending);
    const status = !final ? (started ? 'PROCESSING' : 'PENDING') : renders.every((r) => r.status === RENDER_STATUS.failed) ? 'FAILED' : 'COMPLETED';
    return {
      type: 'RENDER',
      ...(b.ref ? { ref: b.ref } : {}),
      batchId: b.batchId,
      artistId: b.artistId,
      ...(b.mediaBundleId ? { mediaBundleId: b.mediaBundleId } : {}),
      mediaId: b.mediaId,
      status,
      createdAt: new Date(b.created).toISOString(),
      ...(b.webhookUrl ? { webhookUrl: b.webhookUrl } : {}),
      renders,
    };
  }

  /** Posts the webhooks of a batch as its renders move (nothing without a webhookUrl). */
  private startTicker(b: StoredBatch): void {
    if (!b.webhookUrl || this.tickers.has(b.batchId) || this.sent.get(b.batchId) === 'BATCH') return;
    const t = setInterval(() => this.tick(b), TICK_MS);
    t.unref();
    this.tickers.set(b.batchId, t);
    this.tick(b);
  }

  private tick(b: StoredBatch): void {
    if (this.core.signal.aborted) return this.stopTicker(b.batchId);
    const v = this.view(b);
    const post = (payload: RenderWebhook | BatchWebhook) => {
      this.traceOf(b.batchId).webhooks.push({ at: Date.now(), type: payload.type, status: payload.status });
      void this.core.webhooks.send(b.batchId, b.webhookUrl!, payload);
    };
    for (const r of v.renders) {
      // Stages that are posted: from COLLECTING_ASSETS on, once at 50 %, and the end.
      const stage = r.status === RENDER_STATUS.rendering && (r.progress ?? 0) >= 50 ? 'HALF' : r.status;
      const key = `${b.batchId}/${r.renderId}`;
      if (stage === RENDER_STATUS.pending || this.sent.get(key) === stage) continue;
      this.sent.set(key, stage);
      const status = r.status === RENDER_STATUS.completed ? RENDER_STATUS.complete : r.status;
      post({
        type: 'RENDER',
        ref: b.ref,
        status,
        progress: r.progress ?? 0,
        message: r.message ?? '',
        renderId: r.renderId,
        batchId: b.batchId,
        renderUrl: r.renderUrl ?? '',
      });
    }
    if (v.renders.every((r) => isFinal(r.status))) {
      this.sent.set(b.batchId, 'BATCH');
      const renders = v.renders.map((r) => ({
        renderId: r.renderId,
        status: r.status === RENDER_STATUS.completed ? RENDER_STATUS.complete : r.status,
        message: r.message ?? '',
        progress: r.progress ?? 0,
        renderUrl: r.renderUrl ?? '',
      }));
      post({ type: 'BATCH', batchId: b.batchId, ref: b.ref, status: 'COMPLETE', renders });
      this.stopTicker(b.batchId);
    }
  }

  private stopTicker(id: string): void {
    clearInterval(this.tickers.get(id));
    this.tickers.delete(id);
  }

  async close(): Promise<void> {
    for (const id of [...this.tickers.keys()]) this.stopTicker(id);
    await this.records.flush();
  }
}
