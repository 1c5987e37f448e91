/**
 * The blurb wire contract (seed 004, protocols/blurb.md), shared by the client adapter and the
 * sandbox so both speak the same fields, limits, states and messages. Every **ASSUMED** choice
 * (where the vendor is silent) lives in this file and nowhere else.
 */

import type { ValidationPolicy } from '../../core/types.js';
import { extensionMap } from '../../core/validate/formats.js';

export const BLURB_DEFAULT_ENDPOINT = 'https://api.blurb.fm';

export const PATHS = {
  batches: '/v1/batches',
  batch: (batchId: string) => `/v1/batches/${encodeURIComponent(batchId)}`,
  /** Sandbox only (not the vendor's API): `batchup render --sandbox` PUTs a local asset here and gets its URL. */
  sandboxAssets: '/_sandbox/blurb/assets',
} as const;

/** ASSUMED (not documented): the values the vendor accepts. */
export const ASPECT_RATIOS = ['16x9', '9x16', '1x1', '4x5'] as const;
export const OUTPUT_QUALITIES = ['PREVIEW', 'FULL'] as const;

export const LIMITS = {
  /** ASSUMED: 1–10 videos per render item; one render per `renders[]` item whatever it says. */
  minNumVideos: 1,
  maxNumVideos: 10,
  /** ASSUMED: renders per batch. */
  maxRenders: 100,
  /** ASSUMED: asset sizes (undocumented; generous). */
  maxAudioBytes: 500 * 1024 * 1024,
  maxArtworkBytes: 50 * 1024 * 1024,
  maxArtworkPixels: 100_000_000,
  /** The receiver must answer a webhook within this long. */
  webhookAnswerMs: 2_000,
} as const;

/**
 * ASSUMED: a POST answered 429 or 503 created nothing (it may be sent again); any other failed
 * answer (500, a reset, a timeout) may have created the batch. ASSUMED: the answer's `renders`
 * are in the order of the body's, one per item (how renders map back to a spec's `renders[i]`).
 */
export const POST_NOT_CREATED: readonly number[] = [429, 503];

export const RENDER_STATUS = {
  pending: 'PENDING',
  collecting: 'COLLECTING_ASSETS',
  rendering: 'RENDERING',
  completed: 'COMPLETED',
  /** What webhooks say for a finished render (and a finished batch): the same as COMPLETED. */
  complete: 'COMPLETE',
  /** ASSUMED: the failure value is not documented. */
  failed: 'FAILED',
} as const;

/** A render (or batch) status that will not change any more. */
export const isFinal = (status: unknown) => status === RENDER_STATUS.completed || status === RENDER_STATUS.complete || status === RENDER_STATUS.failed;
export const isDone = (status: unknown) => status === RENDER_STATUS.completed || status === RENDER_STATUS.complete;

export const MESSAGES = {
  created: 'Batch created successfully',
  retrieved: 'Batch retrieved successfully',
  dryRun: 'Batch validated successfully (dry run)',
  invalid: 'Invalid request body',
  notFound: (id: string) => `Batch '${id}' not found`,
  unauthorized: 'Unauthorized',
  collecting: 'Collecting assets for this render',
  rendering: 'Rendering.',
  completed: 'Render completed.',
  /** ASSUMED wording of render failures. */
  assetUnreachable: (field: string, why: string) => `Could not fetch ${field}: ${why}.`,
  notMp3: (why: string) => `The audio is not an MP3 file (${why}).`,
  badArtwork: (field: string, why: string) => `${field} must be a square PNG or JPG image (${why}).`,
} as const;

// ---- what assets must be (both sides check them: the client before it creates a batch) ----

const policy = (extensions: string[], maxFileSize: number): ValidationPolicy => {
  const map = extensionMap(extensions);
  return {
    formats: new Set(map.values()),
    extensions: map,
    maxFileSize,
    maxPixels: LIMITS.maxArtworkPixels,
    maxFrames: 10_000,
    zip: { maxEntries: 0, maxTotalUncompressed: 0, maxRatio: 1 },
  };
};

/** Audio must really be MP3: recognised by its frames (core/validate/mp3.ts), not by a name or a tag. */
export const audioPolicy = policy(['mp3'], LIMITS.maxAudioBytes);
/** Artwork: PNG or JPEG (square: the dimensions of its header). */
export const artworkPolicy = policy(['png', 'jpg', 'jpeg'], LIMITS.maxArtworkBytes);

// ---- wire types ----

export interface Envelope<T> {
  success: boolean;
  message: string;
  data?: T;
}

export interface RenderRecord {
  renderId: string;
  batchId?: string;
  contentId?: string;
  ref?: string;
  status: string;
  progress?: number;
  message?: string;
  aspectRatio?: string;
  fileName?: string;
  createdAt?: string;
  renderUrl?: string;
  thumbnailUrl?: string;
  [field: string]: unknown;
}

export interface BatchRecord {
  type?: string;
  ref?: string;
  batchId: string;
  artistId?: string;
  mediaBundleId?: string;
  mediaId?: string;
  status: string;
  createdAt?: string;
  webhookUrl?: string;
  renders: RenderRecord[];
}

export interface RenderWebhook {
  type: 'RENDER';
  ref?: string;
  status: string;
  progress: number;
  message: string;
  renderId: string;
  batchId: string;
  renderUrl: string;
}

export interface BatchWebhook {
  type: 'BATCH';
  batchId: string;
  ref?: string;
  status: 'COMPLETE';
  renders: { renderId: string; status: string; message: string; progress: number; renderUrl: string }[];
}

// ---- the body of POST /v1/batches ----

/** One thing wrong with a body: where (`renders[0].videoSettings.aspectRatio`), what rule, in words. */
export interface BodyProblem {
  field: string;
  rule: 'unknown-field' | 'required' | 'type' | 'enum' | 'range' | 'conflict' | 'url';
  message: string;
}

/** Where the assets of a body are: every asset field, by its path in the body. */
export const ASSET_FIELDS = [
  { path: ['artist', 'artworkUrl'], kind: 'artwork' },
  { path: ['mediaBundle', 'artworkUrl'], kind: 'artwork' },
  { path: ['media', 'artworkUrl'], kind: 'artwork' },
  { path: ['media', 'audioUrl'], kind: 'audio' },
] as const;

export type AssetKind = (typeof ASSET_FIELDS)[number]['kind'];

const TOP = ['ref', 'artist', 'artistId', 'mediaBundle', 'mediaBundleId', 'media', 'mediaId', 'serviceParams', 'webhookUrl', 'dryRun', 'renders'];
const NAMED = { artist: ['name', 'artworkUrl'], mediaBundle: ['name', 'artworkUrl'], media: ['name', 'artworkUrl', 'audioUrl'] } as const;
const RENDER = ['contentId', 'requiredData', 'videoSettings'];
const SETTINGS = ['numVideos', 'aspectRatio', 'audioStartEndSecs', 'outputQuality'];

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
export const isHttpUrl = (v: string) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname;
  } catch {
    return false;
  }
};

export interface BodyCheckOptions {
  /** What an asset field may hold; default: an http(s) URL (the server). The client also takes local paths. */
  asset?(value: string, field: string): string | undefined;
}

/**
 * Everything wrong with a batch body, by the contract: required parts, unknown fields at every
 * level, an object and its id together, the ASSUMED enums and ranges. Pure.
 */
export function checkBody(body: unknown, o: BodyCheckOptions = {}): BodyProblem[] {
  const out: BodyProblem[] = [];
  const add = (field: string, rule: BodyProblem['rule'], message: string) => out.push({ field, rule, message });
  if (!isObject(body)) return [{ field: '(body)', rule: 'type', message: 'the batch must be a JSON object' }];
  const unknown = (obj: Record<string, unknown>, allowed: readonly string[], at: string) => {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) add(at ? `${at}.${k}` : k, 'unknown-field', `unknown field (allowed: ${allowed.join(', ')})`);
  };
  const asset = (v: unknown, field: string) => {
    if (!nonEmpty(v)) return add(field, 'type', 'must be a non-empty string');
    const problem = o.asset ? o.asset(v, field) : isHttpUrl(v) ? undefined : 'must be an http(s) URL';
    if (problem) add(field, 'url', problem);
  };
  unknown(body, TOP, '');
  if (body.ref !== undefined && !nonEmpty(body.ref)) add('ref', 'type', 'must be a non-empty string');
  if (body.webhookUrl !== undefined && (!nonEmpty(body.webhookUrl) || !isHttpUrl(body.webhookUrl))) add('webhookUrl', 'url', 'must be an http(s) URL');
  if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') add('dryRun', 'type', 'must be true or false');
  if (body.serviceParams !== undefined && !isObject(body.serviceParams)) add('serviceParams', 'type', 'must be an object');

  const part = (name: keyof typeof NAMED, idField: string, required: boolean, withId: boolean) => {
    const v = body[name];
    const id = body[idField];
    if (v !== undefined && id !== undefined) add(idField, 'conflict', `give ${name} or ${idField}, not both`);
    if (id !== undefined && !nonEmpty(id)) add(idField, 'type', 'must be a non-empty string');
    if (v === undefined) {
      if (required && id === undefined) add(name, 'required', `${name} (an object) or ${idField} is required`);
      return;
    }
    if (withId && typeof v === 'string') {
      if (!nonEmpty(v)) add(name, 'type', 'must be a non-empty id');
      return;
    }
    if (!isObject(v)) return add(name, 'type', `must be an object${withId ? ' or an id' : ''}`);
    unknown(v, NAMED[name], name);
    if (!nonEmpty(v.name)) add(`${name}.name`, 'required', 'a non-empty name is required');
    if (v.artworkUrl !== undefined) asset(v.artworkUrl, `${name}.artworkUrl`);
    if (name === 'media') asset(v.audioUrl, 'media.audioUrl');
  };
  part('artist', 'artistId', true, true);
  part('mediaBundle', 'mediaBundleId', false, false);
  part('media', 'mediaId', true, false);

  const renders = body.renders;
  if (!Array.isArray(renders) || renders.length === 0) {
    add('renders', 'required', 'at least one render is required');
    return out;
  }
  if (renders.length > LIMITS.maxRenders) add('renders', 'range', `at most ${LIMITS.maxRenders} renders per batch (ASSUMED)`);
  for (const [i, r] of renders.entries()) checkRender(r, `renders[${i}]`, add, unknown);
  return out;
}

function checkRender(
  r: unknown,
  at: string,
  add: (field: string, rule: BodyProblem['rule'], message: string) => void,
  unknown: (obj: Record<string, unknown>, allowed: readonly string[], at: string) => void,
): void {
  if (!isObject(r)) return add(at, 'type', 'must be an object');
  unknown(r, RENDER, at);
  if (!nonEmpty(r.contentId)) add(`${at}.contentId`, 'required', 'a contentId is required');
  if (r.requiredData !== undefined && !isObject(r.requiredData)) add(`${at}.requiredData`, 'type', 'must be an object');
  const vs = r.videoSettings;
  if (vs === undefined) return;
  if (!isObject(vs)) return add(`${at}.videoSettings`, 'type', 'must be an object');
  const s = `${at}.videoSettings`;
  unknown(vs, SETTINGS, s);
  const n = vs.numVideos;
  if (n !== undefined && !(Number.isInteger(n) && (n as number) >= LIMITS.minNumVideos && (n as number) <= LIMITS.maxNumVideos)) {
    add(`${s}.numVideos`, 'range', `must be a whole number from ${LIMITS.minNumVideos} to ${LIMITS.maxNumVideos}, got ${JSON.stringify(n)}`);
  }
  if (vs.aspectRatio !== undefined && !(ASPECT_RATIOS as readonly unknown[]).includes(vs.aspectRatio)) {
    add(`${s}.aspectRatio`, 'enum', `unknown aspect ratio ${JSON.stringify(vs.aspectRatio)} (known: ${ASPECT_RATIOS.join(', ')})`);
  }
  if (vs.outputQuality !== undefined && !(OUTPUT_QUALITIES as readonly unknown[]).includes(vs.outputQuality)) {
    add(`${s}.outputQuality`, 'enum', `unknown output quality ${JSON.stringify(vs.outputQuality)} (known: ${OUTPUT_QUALITIES.join(', ')})`);
  }
  const se = vs.audioStartEndSecs;
  if (se === undefined) return;
  if (!isObject(se)) return add(`${s}.audioStartEndSecs`, 'type', 'must be an object {start, end}');
  unknown(se, ['start', 'end'], `${s}.audioStartEndSecs`);
  const { start, end } = se;
  if (typeof start !== 'number' || typeof end !== 'number' || !Number.isFinite(start) || !Number.isFinite(end)) {
    add(`${s}.audioStartEndSecs`, 'type', 'start and end must be numbers of seconds');
  } else if (!(start >= 0 && start < end)) {
    add(`${s}.audioStartEndSecs`, 'range', `needs 0 ≤ start < end, got start ${start}, end ${end}`);
  }
}
