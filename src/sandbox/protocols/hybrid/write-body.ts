/**
 * Streams a request body into a file at an offset with a running digest — the one write path of
 * part PUTs and of the raw PUT baseline (bench/hybrid.js compares it with `curl -T`).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { crc32 } from 'node:zlib';
import { drainOrClose } from '../../kit/store.js';

const WRITE_HWM = 1024 * 1024;

export interface WrittenBody {
  bytes: number;
  digest: string;
  /** Past `limit`: the rest was read but not written. */
  tooLarge: boolean;
  /** The body ended early or errored. */
  broken: boolean;
  /** Stopped at `cutAt` (a 'cut' fault). */
  cut: boolean;
}

/**
 * `source` into `path` at `start`: sha256 for whole objects, CRC-32 for parts (their ETag:
 * integrity of one part at a fraction of the CPU; the whole file gets its sha256 from the
 * frontier). Stops writing past `limit` bytes, or at `cutAt`.
 */
export async function writeBody(
  source: AsyncIterable<Buffer>,
  path: string,
  start: number,
  limit: number,
  digest: 'sha256' | 'crc32',
  cutAt?: number,
): Promise<WrittenBody> {
  const ws = createWriteStream(path, { flags: start === 0 && limit === Infinity ? 'w' : 'r+', start, highWaterMark: WRITE_HWM });
  let wsError: unknown;
  ws.on('error', (err) => (wsError = err));
  const h = digest === 'sha256' ? createHash('sha256') : undefined;
  let crc = 0;
  let bytes = 0;
  let tooLarge = false;
  let broken = false;
  let cut = false;
  try {
    for await (const chunk of source) {
      let c = chunk;
      if (cutAt !== undefined && bytes + c.length >= cutAt) {
        c = c.subarray(0, Math.max(0, cutAt - bytes));
        cut = true;
      }
      if (tooLarge || bytes + c.length > limit) {
        // Keep reading (not writing) so the client can be answered 400 on a healthy connection.
        bytes += c.length;
        tooLarge = true;
        continue;
      }
      bytes += c.length;
      if (h) h.update(c);
      else crc = crc32(c, crc);
      if (!ws.write(c)) await drainOrClose(ws);
      if (wsError) throw wsError;
      if (cut) break;
    }
  } catch (err) {
    if (wsError) throw err;
    broken = true;
  } finally {
    ws.end();
    await once(ws, 'close').catch(() => undefined);
  }
  if (wsError) throw wsError;
  return { bytes, digest: h ? h.digest('hex') : (crc >>> 0).toString(16).padStart(8, '0'), tooLarge, broken, cut };
}
