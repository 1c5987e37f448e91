/**
 * `batchup manifest verify`: is every output URL of a manifest still there? One HEAD per URL (a
 * GET of one byte where HEAD is refused: 405, 501, and 403 — a presigned GET URL's signature does
 * not cover HEAD, so a 403 proves nothing until a GET says it too), redirects followed, never with
 * credentials; 5xx, 429 and network errors are retried a little before they count. A URL is
 * - `ok`: it answers 2xx and its `expiresAt` is further away than `within`;
 * - `expiring`: it answers, but `expiresAt` is within `within` (or past: the server is lenient);
 * - `dead`: a 4xx (404 and 410 for a removed object, 403 for an expired signature);
 * - `error`: no answer, or still a 5xx after the retries.
 * URLs that are not http(s) (claid's bucket URIs) cannot be checked and are listed as `skipped`.
 */
import { BatchupError, toBatchupError } from './errors.js';
import type { Http } from './http.js';
import { doneEntries } from './manifest-tools.js';
import type { Manifest } from './manifest.js';
import { mapPool } from './pool.js';
import { withRetry } from './retry.js';

export type UrlState = 'ok' | 'expiring' | 'dead' | 'error' | 'skipped';

export interface UrlCheck {
  url: string;
  /** The manifest sources whose output it is. */
  sources: string[];
  state: UrlState;
  /** The final HTTP status. */
  status?: number;
  expiresAt?: string;
  /** Why it is not ok, in words. */
  reason?: string;
}

export interface VerifyOptions {
  http: Http;
  /** ms: a URL expiring sooner than this is `expiring`. */
  withinMs: number;
  concurrency: number;
  now: number;
  signal?: AbortSignal;
  maxRetries?: number;
  onChecked?: (c: UrlCheck) => void;
}

export async function verifyManifest(m: Manifest, o: VerifyOptions): Promise<UrlCheck[]> {
  const byUrl = new Map<string, { sources: string[]; expiresAt?: string }>();
  for (const e of doneEntries(m)) {
    const u = byUrl.get(e.url!) ?? { sources: [] };
    u.sources.push(e.source);
    // The earliest expiry any entry names for this URL.
    if (e.expiresAt && (!u.expiresAt || e.expiresAt < u.expiresAt)) u.expiresAt = e.expiresAt;
    byUrl.set(e.url!, u);
  }
  const out = await mapPool([...byUrl], o.concurrency, async ([url, { sources, expiresAt }]) => {
    const c = await checkUrl(url, sources, expiresAt, o);
    o.onChecked?.(c);
    return c;
  });
  return out;
}

async function checkUrl(url: string, sources: string[], expiresAt: string | undefined, o: VerifyOptions): Promise<UrlCheck> {
  const base = { url, sources, ...(expiresAt ? { expiresAt } : {}) };
  if (!/^https?:\/\//i.test(url)) return { ...base, state: 'skipped', reason: 'not an http(s) URL: cannot be checked from here' };
  let status: number;
  try {
    status = await withRetry(() => statusOf(o.http, url, o.signal), { policy: { maxRetries: o.maxRetries ?? 2, baseMs: 200 }, signal: o.signal });
  } catch (raw) {
    const err = toBatchupError(raw);
    if (err.code === 'INTERRUPTED') throw err;
    return { ...base, state: 'error', ...(err.status ? { status: err.status } : {}), reason: err.status ? `HTTP ${err.status}` : err.message };
  }
  if (status >= 400) return { ...base, state: 'dead', status, reason: `HTTP ${status}${status === 410 ? ' (gone)' : status === 404 ? ' (not found)' : ''}` };
  const left = expiresAt ? Date.parse(expiresAt) - o.now : Number.POSITIVE_INFINITY;
  if (left <= o.withinMs) {
    return { ...base, state: 'expiring', status, reason: left <= 0 ? `expired at ${expiresAt} (the server still answers)` : `expires at ${expiresAt}` };
  }
  return { ...base, state: 'ok', status };
}

/** The status a URL answers with: HEAD, or a one-byte GET where HEAD is refused. 5xx and 429 throw (retried). */
async function statusOf(http: Http, url: string, signal?: AbortSignal): Promise<number> {
  let res = await http.send({ method: 'HEAD', url, signal });
  if (res.status === 405 || res.status === 501 || res.status === 403) {
    const open = await http.open({ method: 'GET', url, headers: { range: 'bytes=0-0', 'accept-encoding': 'identity' }, signal });
    open.body.destroy();
    res = { ...open, text: '' };
  }
  if (res.status >= 500 || res.status === 429) throw new BatchupError('HTTP_RETRYABLE', `HTTP ${res.status}`, { status: res.status });
  return res.status;
}
