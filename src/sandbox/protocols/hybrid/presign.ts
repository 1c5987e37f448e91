/**
 * Presigned part URLs: `${origin}/_presigned/hybrid/<uploadId>/<partNumber>?expires=<ms>&signature=<hmac>`,
 * HMAC-SHA256 over method, upload, part and expiry with a key kept per data folder
 * (`hybrid/presign.key`, made on first start, 0600), so a URL is bound to its upload and part,
 * survives a restart on the same folder, and dies after the TTL.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Clock } from '../../kit/job-clock.js';
import { writeFileAtomic } from '../../kit/records.js';

export const PRESIGNED_BASE = '/_presigned/hybrid';

export class Presigner {
  private constructor(
    private readonly key: Buffer,
    private readonly origin: string,
    private readonly ttlSec: number,
    private readonly now: Clock,
  ) {}

  static async open(keyPath: string, origin: string, ttlSec: number, now: Clock): Promise<Presigner> {
    return new Presigner(await loadKey(keyPath), origin, ttlSec, now);
  }

  url(uploadId: string, n: number): string {
    const expires = this.now() + Math.round(this.ttlSec * 1000);
    return `${this.origin}${PRESIGNED_BASE}/${encodeURIComponent(uploadId)}/${n}?expires=${expires}&signature=${this.sign(uploadId, n, expires)}`;
  }

  /** Whether the URL's parts are the ones signed (expiry is checked apart: an expired URL answers differently). */
  signatureOk(uploadId: string, n: string, expires: string, signature: string): boolean {
    if (!/^\d{1,16}$/.test(expires) || !/^\d{1,9}$/.test(n)) return false;
    const want = Buffer.from(this.sign(uploadId, Number(n), Number(expires)));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  expired(expires: string): boolean {
    return this.now() > Number(expires);
  }

  private sign(uploadId: string, n: number, expires: number): string {
    return createHmac('sha256', this.key).update(`PUT\n${uploadId}\n${n}\n${expires}`).digest('base64url');
  }
}

/** The HMAC key of this data folder (made once, 0600). */
async function loadKey(path: string): Promise<Buffer> {
  try {
    const k = await readFile(path);
    if (k.length >= 32) return k;
  } catch {
    /* first start */
  }
  const k = randomBytes(32);
  await writeFileAtomic(path, k, 0o600);
  return k;
}
