/**
 * Test and benchmark inputs made on the fly (never committed): distinct, structurally valid PNGs
 * of any count and roughly any size, plus helpers for known-bad files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateRawSync, deflateSync } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
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
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: opts.minBytes ? 0 : 6 })),
    chunk('IEND', Buffer.alloc(0)),
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

/** A minimal ZIP writer (stored or deflated entries), for test archives built at test time. */
export function makeZip(entries: { name: string; data: Buffer; deflate?: boolean; declaredSize?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const crc = crc32(e.data) >>> 0;
    const method = e.deflate ? 8 : 0;
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
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
