/**
 * Checking a URL before a server is asked to fetch it (claid's batch inputs, blurb's assets): one
 * ranged GET of its first bytes, redirects followed, never with our credentials (it is someone
 * else's origin). What came back is judged by its bytes (core/validate `inspectHead`) — a
 * server's Content-Type is not trusted.
 */
import { BatchupError, toBatchupError } from './errors.js';
import type { Http } from './http.js';
import { withRetry } from './retry.js';

/** Enough for every header we read (PNG IHDR, JPEG SOF after EXIF, MP3 frames after an ID3 tag). */
export const PROBE_BYTES = 64 * 1024;

export type Probe =
  | { ok: true; url: string; status: number; head: Buffer; size?: number; contentType?: string }
  | { ok: false; status?: number; reason: string };

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** The first `bytes` of `url` (fewer when it is shorter), and its total size when the server says. */
export async function probeUrl(http: Http, url: string, o: { bytes?: number; signal?: AbortSignal; maxRetries?: number } = {}): Promise<Probe> {
  const want = o.bytes ?? PROBE_BYTES;
  try {
    return await withRetry(
      async () => {
        const res = await http.open({ method: 'GET', url, headers: { range: `bytes=0-${want - 1}`, 'accept-encoding': 'identity' }, signal: o.signal });
        if (res.status !== 200 && res.status !== 206) {
          res.body.destroy();
          if (res.status >= 500 || res.status === 429) throw new BatchupError('HTTP_RETRYABLE', `HTTP ${res.status}`, { status: res.status });
          return { ok: false as const, status: res.status, reason: `HTTP ${res.status}` };
        }
        const chunks: Buffer[] = [];
        let got = 0;
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          chunks.push(chunk);
          got += chunk.length;
          if (got >= want) break;
        }
        res.body.destroy();
        const range = /\/(\d+)\s*$/.exec(one(res.headers['content-range']) ?? '');
        const length = Number(one(res.headers['content-length']));
        const size = range ? Number(range[1]) : res.status === 200 && Number.isFinite(length) ? length : undefined;
        const head = Buffer.concat(chunks).subarray(0, want);
        return { ok: true as const, url: res.url, status: res.status, head, size, contentType: one(res.headers['content-type']) };
      },
      { policy: { maxRetries: o.maxRetries ?? 2, baseMs: 200 }, signal: o.signal },
    );
  } catch (raw) {
    const err = toBatchupError(raw);
    if (err.code === 'INTERRUPTED') throw err;
    return { ok: false, status: err.status, reason: err.status ? `HTTP ${err.status}` : `unreachable (${err.message.replace(/^network error: /, '')})` };
  }
}
