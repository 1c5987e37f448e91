/**
 * Test documents made on the fly (never committed): PDFs of any size that pass batchup's PDF
 * check, and DOCX packages (optionally with a large media part stored before
 * `[Content_Types].xml`, the layout file-type cannot recognise from a file's first bytes).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeZip } from './generate.js';

/** Deterministic bytes that do not compress: an AES-128-CTR keystream keyed by the seed. */
export function noise(seed: number | string, n: number): Buffer {
  const key = createHash('sha256').update(`noise:${seed}`).digest();
  const c = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([c.update(Buffer.alloc(n)), c.final()]);
}

/** A small, well-formed PDF (one stream object), padded with a binary stream up to `minBytes`. */
export function makePdf(seed: number | string, opts: { minBytes?: number } = {}): Buffer {
  const head = Buffer.from(
    `%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 /Seed (${seed}) >>\nendobj\n`,
    'latin1',
  );
  const tail = Buffer.from('trailer\n<< /Root 1 0 R >>\n%%EOF\n', 'latin1');
  const base = head.length + tail.length;
  const pad = Math.max(0, (opts.minBytes ?? 0) - base - 64);
  if (!pad) return Buffer.concat([head, tail]);
  const data = noise(seed, pad);
  const streamHead = Buffer.from(`3 0 obj\n<< /Length ${pad} >>\nstream\n`, 'latin1');
  const streamTail = Buffer.from('\nendstream\nendobj\n', 'latin1');
  return Buffer.concat([head, streamHead, data, streamTail, tail]);
}

const CONTENT_TYPES =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
  '</Types>';

/** A minimal DOCX package. `mediaBytes` stores an incompressible word/media part first. */
export function makeDocx(seed: number | string, opts: { mediaBytes?: number } = {}): Buffer {
  const doc = `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>batchup ${seed}</w:t></w:r></w:p></w:body></w:document>`;
  const entries: { name: string; data: Buffer; deflate?: boolean }[] = [
    { name: '[Content_Types].xml', data: Buffer.from(CONTENT_TYPES), deflate: true },
    {
      name: '_rels/.rels',
      data: Buffer.from('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>'),
      deflate: true,
    },
    { name: 'word/document.xml', data: Buffer.from(doc), deflate: true },
  ];
  if (opts.mediaBytes) entries.unshift({ name: 'word/media/image1.bin', data: noise(`media-${seed}`, opts.mediaBytes), deflate: false });
  return makeZip(entries);
}

export async function writeFileMkdir(path: string, data: Buffer): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
  return path;
}
