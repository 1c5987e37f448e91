/**
 * PDF: a structure check without parsing objects — the header names a version, and the file
 * ends with an end-of-file marker. A download cut short (the common way a PDF breaks) has no
 * `%%EOF` at its end. Like Acrobat, the marker may sit anywhere in the last 1024 bytes (some
 * producers append a few bytes of padding after it).
 */
import type { ValidationPolicy } from '../types.js';
import type { Shape } from './limits.js';
import { fail, type ByteSource } from './source.js';

const TAIL_BYTES = 1024;

export async function checkPdf(src: ByteSource, _policy: ValidationPolicy): Promise<Shape> {
  const head = await src.read(0, 16);
  if (!/^%PDF-\d\.\d/.test(head.toString('latin1'))) fail('corrupt', 'PDF header is malformed (expected %PDF-<major>.<minor>)');
  const n = Math.min(src.size, TAIL_BYTES);
  const tail = await src.read(src.size - n, n);
  if (!tail.includes('%%EOF', 0, 'latin1')) fail('corrupt', 'PDF is truncated (no %%EOF marker at the end)');
  return {};
}
