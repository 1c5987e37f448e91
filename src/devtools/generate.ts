/**
 * Test and benchmark inputs made on the fly (never committed): distinct, structurally valid PNGs
 * of any count and roughly any size, plus helpers for known-bad files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateRawSync, deflateSync } from 'node:zlib';

/** The eight bytes every PNG starts with. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data and CRC (for hand-made PNGs in tests). */
export function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** The IHDR chunk of an 8-bit RGB PNG of `width`×`height`. */
export function pngIhdr(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return pngChunk('IHDR', ihdr);
}

/**
 * A valid RGB PNG, unique per `seed`. `minBytes` pads with incompressible pixels so files reach
 * a size (e.g. an 11 MB image for limit tests).
 */
export function makePng(seed: number, opts: { width?: number; height?: number; minBytes?: number } = {}): Buffer {
  let width = opts.width ?? 16;
  let height = opts.height ?? 16;
  if (opts.minBytes) {
    // Random pixels barely compress: ~3 bytes per pixel.
    const px = Math.ceil(opts.minBytes / 3) + 1024;
    width = 1024;
    height = Math.ceil(px / width);
  }
  let state = (seed * 2654435761) >>> 0 || 1;
  const rnd = () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width * 3; x++) raw[row + 1 + x] = opts.minBytes ? rnd() : (x * 7 + y * 13 + seed) & 0xff;
  }
  // Stamp the seed into the first pixels so even tiny images differ.
  raw.writeUInt32BE(seed >>> 0, 1);
  return Buffer.concat([
    PNG_SIGNATURE,
    pngIhdr(width, height),
    pngChunk('IDAT', deflateSync(raw, { level: opts.minBytes ? 0 : 6 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Write `count` distinct PNGs named img-00000.png … into `dir`; returns their paths. */
export async function writePngs(dir: string, count: number, opts: { prefix?: string; seedBase?: number } = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = join(dir, `${opts.prefix ?? 'img'}-${String(i).padStart(5, '0')}.png`);
    await writeFile(p, makePng((opts.seedBase ?? 0) + i + 1));
    paths.push(p);
  }
  return paths;
}

export interface ZipEntry {
  /** A Buffer is written as raw bytes (e.g. a Shift-JIS name); a name ending in '/' is a directory. */
  name: string | Buffer;
  data?: Buffer;
  /** Deflate the data (method 8); stored otherwise. */
  deflate?: boolean;
  /** The compression method to record instead: 8 deflates, any other stores the data as given. */
  method?: number;
  /** General-purpose flags (bit 0 encrypted, bit 11 UTF-8 name); default 0x800 for string names. */
  flags?: number;
  /** A Unix mode (e.g. 0o120777, a symlink) for the external attributes, made by "Unix". */
  mode?: number;
  /** Lie about the uncompressed size (local and central). */
  declaredSize?: number;
  /** Lie about the CRC-32. */
  crc?: number;
}

/**
 * A minimal ZIP writer (no ZIP64, no data descriptors), for test archives built at test time.
 * `overlap` adds a second central record pointing at entry 0's data (an overlapping-entry bomb).
 */
export function makeZip(entries: ZipEntry[], opts: { overlap?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? (e.deflate ? 8 : 0);
    const body = method === 8 ? deflateRawSync(data) : data;
    // Version needed … extra field length (DOS time and date left 0): the same in both headers.
    const fields = Buffer.alloc(26);
    fields.writeUInt16LE(20, 0);
    fields.writeUInt16LE(e.flags ?? (typeof e.name === 'string' ? 0x800 : 0), 2);
    fields.writeUInt16LE(method, 4);
    fields.writeUInt32LE(e.crc ?? crc32(data) >>> 0, 10);
    fields.writeUInt32LE(body.length, 14);
    fields.writeUInt32LE(e.declaredSize ?? data.length, 18);
    fields.writeUInt16LE(name.length, 22);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields.copy(local, 4);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.mode === undefined ? 20 : (3 << 8) | 20, 4);
    fields.copy(central, 6);
    const dir = name[name.length - 1] === 0x2f;
    central.writeUInt32LE(e.mode === undefined ? (dir ? 0x10 : 0) : (e.mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  if (opts.overlap && entries.length > 0) {
    const copy = Buffer.from(centrals[0]!);
    const name = Buffer.from(`again-${centrals[1]!.toString('utf8')}`);
    copy.writeUInt16LE(name.length, 28);
    centrals.push(copy, name);
  }
  const cd = Buffer.concat(centrals);
  const count = centrals.length / 2;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** The "mixed folder" of known-bad inputs next to valid ones (used by e2e tests and the README). */
/** Seeds far from writePngs' range, so these images never collide with generated sets. */
export async function writeMixedFolder(dir: string, seed = 1_000_000): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, Buffer> = {
    'good-1.png': makePng(seed + 101),
    'good-2.png': makePng(seed + 102),
    'good-3.png': makePng(seed + 103),
    'report.jpg': Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n'),
    'truncated.png': makePng(seed + 104).subarray(0, 60),
    'empty.png': Buffer.alloc(0),
    'huge.png': makePng(seed + 105, { minBytes: 11 * 1024 * 1024 }),
    'evil.zip': makeZip([{ name: '../evil.png', data: makePng(seed + 106) }]),
    'bomb.zip': makeZip([{ name: 'bomb.png', data: Buffer.concat([makePng(seed + 107).subarray(0, 33), Buffer.alloc(200 * 1024 * 1024)]), deflate: true }]),
  };
  const out: Record<string, string> = {};
  for (const [name, data] of Object.entries(files)) {
    out[name] = join(dir, name);
    await writeFile(out[name]!, data);
  }
  return out;
}
