/**
 * The sandbox's outputs: a solid-colour image of the output's exact size in the format asked
 * for, made without a codec library, so a downloaded output's real header carries the dimensions
 * the answer reported. PNG (rows after the first filtered "Up": all zeros, deflate folds them),
 * baseline JPEG (one DC value per component; every block after the first is 9 zero bits), lossless
 * WebP (VP8L with single-symbol prefix codes: no pixel costs a bit), grayscale TIFF (PackBits),
 * and AVIF — only its container: the `ispe` box gives the size, the AV1 payload is a placeholder
 * (the sandbox has no AV1 encoder; a decoder will refuse it).
 */
import { once } from 'node:events';
import { crc32, createDeflate } from 'node:zlib';
import type { OutputFormat } from '../../../providers/claid/contract.js';

export type Rgb = readonly [number, number, number];

export async function solidImage(format: OutputFormat, width: number, height: number, rgb: Rgb): Promise<Buffer> {
  switch (format) {
    case 'png':
      return png(width, height, rgb);
    case 'jpeg':
      return jpeg(width, height, rgb);
    case 'webp':
      return webp(width, height, rgb);
    case 'tiff':
      return tiff(width, height, luma(rgb));
    case 'avif':
      return avif(width, height);
  }
}

const luma = ([r, g, b]: Rgb) => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

// ---- PNG ----

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(Buffer.from(type, 'latin1'))) >>> 0);
  return Buffer.concat([head, data, crc]);
}

async function png(w: number, h: number, [r, g, b]: Rgb): Promise<Buffer> {
  const first = Buffer.alloc(1 + 3 * w);
  for (let x = 0; x < w; x++) first.set([r, g, b], 1 + 3 * x);
  const up = Buffer.alloc(1 + 3 * w);
  up[0] = 2; // filter Up: each byte equals the one above
  const z = createDeflate({ level: 6 });
  const parts: Buffer[] = [];
  z.on('data', (c: Buffer) => parts.push(c));
  const ended = once(z, 'end');
  z.write(first);
  for (let y = 1; y < h; y++) if (!z.write(up)) await once(z, 'drain');
  z.end();
  await ended;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(parts)), pngChunk('IEND', Buffer.alloc(0))]);
}

// ---- JPEG ----

/** Bits MSB first, with JPEG's byte stuffing (0xFF → 0xFF 0x00). */
class BitWriter {
  private readonly chunks: Buffer[] = [];
  private out: number[] = [];
  private acc = 0;
  private n = 0;

  put(code: number, len: number): void {
    for (let i = len - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((code >>> i) & 1);
      if (++this.n === 8) {
        this.out.push(this.acc);
        if (this.acc === 0xff) this.out.push(0);
        this.acc = 0;
        this.n = 0;
      }
    }
  }

  /** `count` zero bits, whole zero bytes at once (a zero byte never needs stuffing). */
  zeros(count: number): void {
    let left = count;
    for (; left > 0 && this.n !== 0; left--) this.put(0, 1);
    const whole = Math.floor(left / 8);
    this.chunks.push(Buffer.from(this.out), Buffer.alloc(whole));
    this.out = [];
    this.put(0, left - whole * 8);
  }

  /** Pad with ones to a byte boundary; everything written. */
  end(): Buffer {
    if (this.n > 0) this.put(0xff >> this.n, 8 - this.n);
    return Buffer.concat([...this.chunks, Buffer.from(this.out)]);
  }
}

/** Standard luminance DC table: code lengths of categories 0–11, and the DHT counts per length. */
const DC_LENGTHS = [2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9];
const DC_CODES = [0b00, 0b010, 0b011, 0b100, 0b101, 0b110, 0b1110, 0b11110, 0b111110, 0b1111110, 0b11111110, 0b111111110];
const DC_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];

const segment = (marker: number, body: number[] | Buffer) => {
  const b = Buffer.from(body);
  const head = Buffer.from([0xff, marker, (b.length + 2) >> 8, (b.length + 2) & 0xff]);
  return Buffer.concat([head, b]);
};

function jpeg(w: number, h: number, [r, g, b]: Rgb): Buffer {
  const clamp = (v: number) => Math.max(0, Math.min(255, v));
  const ycc = [0.299 * r + 0.587 * g + 0.114 * b, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b, 128 + 0.5 * r - 0.418688 * g - 0.081312 * b];
  // A flat 8×8 block has only a DC coefficient: 8 × (value − 128), quantised by 1.
  const dcs = ycc.map((v) => Math.round(8 * (clamp(v) - 128)));
  const bits = new BitWriter();
  for (const dc of dcs) {
    const cat = dc === 0 ? 0 : Math.floor(Math.log2(Math.abs(dc))) + 1;
    bits.put(DC_CODES[cat]!, DC_LENGTHS[cat]!);
    if (cat) bits.put(dc > 0 ? dc : dc + (1 << cat) - 1, cat);
    bits.put(0, 1); // EOB (the one AC code)
  }
  // Every later block: DC difference 0 ('00'), then EOB ('0'), for each of the three components.
  const mcus = Math.ceil(w / 8) * Math.ceil(h / 8);
  bits.zeros(9 * (mcus - 1));
  const scan = bits.end();
  const comps = [1, 2, 3].flatMap((id) => [id, 0x11, 0]);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe0, [...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    segment(0xdb, [0, ...new Array(64).fill(1)]),
    segment(0xc0, [8, h >> 8, h & 0xff, w >> 8, w & 0xff, 3, ...comps]),
    segment(0xc4, [0x00, ...DC_COUNTS, ...DC_LENGTHS.map((_, i) => i), 0x10, 1, ...new Array(15).fill(0), 0x00]),
    segment(0xda, [3, 1, 0, 2, 0, 3, 0, 0, 63, 0]),
    scan,
    Buffer.from([0xff, 0xd9]),
  ]);
}

// ---- WebP (lossless) ----

function webp(w: number, h: number, [r, g, b]: Rgb): Buffer {
  const out: number[] = [0x2f];
  let acc = 0;
  let n = 0;
  const put = (v: number, len: number) => {
    for (let i = 0; i < len; i++) {
      acc |= ((v >>> i) & 1) << n;
      if (++n === 8) {
        out.push(acc);
        acc = 0;
        n = 0;
      }
    }
  };
  put(w - 1, 14);
  put(h - 1, 14);
  put(0, 1); // alpha not used
  put(0, 3); // version 0
  put(0, 1); // no transform
  put(0, 1); // no colour cache
  put(0, 1); // no meta prefix codes
  // Five simple prefix codes of one symbol each (green, red, blue, alpha, distance).
  for (const symbol of [g, r, b, 255]) {
    put(1, 1); // simple code
    put(0, 1); // one symbol
    put(1, 1); // an 8-bit symbol
    put(symbol, 8);
  }
  put(1, 1);
  put(0, 1);
  put(0, 1); // a 1-bit symbol
  put(0, 1);
  if (n > 0) out.push(acc);
  const data = Buffer.from(out);
  const pad = data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0);
  const head = Buffer.alloc(20);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(12 + data.length + pad.length, 4);
  head.write('WEBPVP8L', 8, 'latin1');
  head.writeUInt32LE(data.length, 16);
  return Buffer.concat([head, data, pad]);
}

// ---- TIFF (grayscale, PackBits) ----

function tiff(w: number, h: number, gray: number): Buffer {
  const row: number[] = [];
  for (let left = w; left > 0; ) {
    const run = Math.min(128, left);
    if (run === 1) row.push(0, gray);
    else row.push(257 - run, gray); // -(run - 1) as a byte
    left -= run;
  }
  const strip = Buffer.alloc(row.length * h);
  const rowBuf = Buffer.from(row);
  for (let y = 0; y < h; y++) rowBuf.copy(strip, y * row.length);
  const entries: [number, number, number][] = [
    [256, 4, w], // ImageWidth (LONG)
    [257, 4, h], // ImageLength
    [258, 3, 8], // BitsPerSample (SHORT)
    [259, 3, 32773], // Compression: PackBits
    [262, 3, 1], // PhotometricInterpretation: BlackIsZero
    [273, 4, 8], // StripOffsets: right after the header
    [277, 3, 1], // SamplesPerPixel
    [278, 4, h], // RowsPerStrip
    [279, 4, strip.length], // StripByteCounts
  ];
  const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
  ifd.writeUInt16LE(entries.length, 0);
  entries.forEach(([tag, type, value], i) => {
    const at = 2 + i * 12;
    ifd.writeUInt16LE(tag, at);
    ifd.writeUInt16LE(type, at + 2);
    ifd.writeUInt32LE(1, at + 4);
    if (type === 3) ifd.writeUInt16LE(value, at + 8);
    else ifd.writeUInt32LE(value, at + 8);
  });
  const header = Buffer.from([0x49, 0x49, 42, 0, 0, 0, 0, 0]);
  const ifdAt = 8 + strip.length + (strip.length % 2);
  header.writeUInt32LE(ifdAt, 4);
  return Buffer.concat([header, strip, Buffer.alloc(strip.length % 2), ifd]);
}

// ---- AVIF (container only) ----

const box = (type: string, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
};
const full = (type: string, version: number, ...parts: Buffer[]) => box(type, Buffer.from([version, 0, 0, 0]), ...parts);
const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

function avif(w: number, h: number): Buffer {
  const payload = Buffer.from('batchup sandbox: no AV1 encoder here', 'latin1');
  const ftyp = box('ftyp', Buffer.from('avif', 'latin1'), u32(0), Buffer.from('avifmif1miaf', 'latin1'));
  const meta = (offset: number) =>
    full(
      'meta',
      0,
      full('hdlr', 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), Buffer.from([0])),
      full('pitm', 0, u16(1)),
      full('iloc', 0, Buffer.from([0x44, 0x00]), u16(1), u16(1), u16(0), u16(1), u32(offset), u32(payload.length)),
      full('iinf', 0, u16(1), full('infe', 2, u16(1), u16(0), Buffer.from('av01\0', 'latin1'))),
      box(
        'iprp',
        box('ipco', full('ispe', 0, u32(w), u32(h)), box('av1C', Buffer.from([0x81, 0x00, 0x0c, 0x00]))),
        full('ipma', 0, u32(1), u16(1), Buffer.from([2, 0x01, 0x82])),
      ),
    );
  const offset = ftyp.length + meta(0).length + 8;
  return Buffer.concat([ftyp, meta(offset), box('mdat', payload)]);
}
