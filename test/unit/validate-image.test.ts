import { afterAll, describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import type { ValidationPolicy } from '../../src/core/types.js';
import { bachPolicy } from '../../src/providers/bach/policy.js';
import { PNG_SIGNATURE, pngChunk, pngIhdr } from '../../src/devtools/generate.js';
import { fixture, messageOf, ruleOf, tempDir, validatePath } from './validate-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const check = async (name: string, data: Buffer | string, policy: ValidationPolicy = bachPolicy) => validatePath(tmp.write(name, data), policy);

// ---------- PNG helpers
/** gradient.png with extra chunks right after IHDR. */
function pngWith(...extra: Buffer[]): Buffer {
  const png = fixture('gradient.png');
  return Buffer.concat([png.subarray(0, 33), ...extra, png.subarray(33)]);
}

describe('PNG', () => {
  it('accepts trailing bytes after IEND', async () => {
    expect(ruleOf(await check('trail.png', Buffer.concat([fixture('gradient.png'), Buffer.from('trailer')])))).toBe('ok');
  });

  it('rejects a truncated PNG', async () => {
    const r = await check('cut.png', fixture('gradient.png').subarray(0, 3000));
    expect(messageOf(r)).toBe('cut.png: PNG is truncated (inside chunk IDAT) (corrupt)');
  });

  it('rejects a PNG without IEND', async () => {
    const png = fixture('gradient.png');
    expect(messageOf(await check('noend.png', png.subarray(0, png.length - 12)))).toBe('noend.png: PNG is truncated (no IEND chunk) (corrupt)');
  });

  it('rejects a bad CRC', async () => {
    const png = Buffer.from(fixture('gradient.png'));
    png[200] = png[200]! ^ 0xff;
    expect(messageOf(await check('crc.png', png))).toBe('crc.png: PNG chunk IDAT has a bad CRC (corrupt)');
  });

  it('rejects an Apple CgBI PNG', async () => {
    const png = fixture('gradient.png');
    const fried = Buffer.concat([PNG_SIGNATURE, pngChunk('CgBI', Buffer.from([0x50, 0x00, 0x20, 0x06])), png.subarray(8)]);
    expect(ruleOf(await check('fried.png', fried))).toBe('corrupt');
  });

  it('rejects a pixel flood from IHDR alone', async () => {
    const png = Buffer.concat([PNG_SIGNATURE, pngIhdr(20000, 20000), pngChunk('IDAT', deflateSync(Buffer.alloc(10))), pngChunk('IEND', Buffer.alloc(0))]);
    expect(messageOf(await check('flood.png', png))).toBe('flood.png: image is 20000×20000 (400.0 MP), over the 268.4 MP limit (image-bomb)');
  });

  it('rejects compressed text that inflates past the cap, accepts small text', async () => {
    const bomb = pngChunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), deflateSync(Buffer.alloc(2 * 1024 * 1024, 0x41))]));
    expect(ruleOf(await check('ztxt.png', pngWith(bomb)))).toBe('image-bomb');
    const ok = pngChunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), deflateSync(Buffer.from('hello'))]));
    expect(ruleOf(await check('ztxt-ok.png', pngWith(ok)))).toBe('ok');
    const itxt = pngChunk('iTXt', Buffer.concat([Buffer.from('XML\0\x01\x00en\0\0', 'latin1'), deflateSync(Buffer.alloc(2 * 1024 * 1024))]));
    expect(ruleOf(await check('itxt.png', pngWith(itxt)))).toBe('image-bomb');
  });

  it('rejects an APNG declaring too many frames', async () => {
    const actl = Buffer.alloc(8);
    actl.writeUInt32BE(5000, 0);
    expect(messageOf(await check('frames.png', pngWith(pngChunk('acTL', actl))))).toBe('frames.png: more than 1000 frames (image-bomb)');
  });
});

describe('JPEG', () => {
  it('rejects a JPEG without EOI', async () => {
    const jpg = fixture('photo.jpg');
    expect(messageOf(await check('noeoi.jpg', jpg.subarray(0, jpg.length - 2)))).toBe('noeoi.jpg: JPEG is truncated (no end-of-image marker) (corrupt)');
  });

  it('accepts bytes after EOI, even a large trailer (motion photos append a video)', async () => {
    expect(ruleOf(await check('trail.jpg', Buffer.concat([fixture('photo.jpg'), Buffer.alloc(300, 0x20)])))).toBe('ok');
    expect(ruleOf(await check('motion.jpg', Buffer.concat([fixture('photo.jpg'), Buffer.alloc(600 * 1024, 0x20)])))).toBe('ok');
  });

  it('rejects a JPEG cut inside its headers', async () => {
    expect(messageOf(await check('head.jpg', fixture('photo.jpg').subarray(0, 100)))).toMatch(/JPEG is truncated/);
  });

  it('rejects a frame header declaring a pixel flood', async () => {
    const jpg = Buffer.from(fixture('photo.jpg'));
    const sof = jpg.findIndex((b, i) => b === 0xff && (jpg[i + 1] === 0xc0 || jpg[i + 1] === 0xc2));
    jpg.writeUInt16BE(30000, sof + 5);
    jpg.writeUInt16BE(30000, sof + 7);
    expect(ruleOf(await check('flood.jpg', jpg))).toBe('image-bomb');
  });
});

// ---------- GIF helpers: 1×1 frames with a 4-colour minimum code size (2)
const GIF_HEAD = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1');
const frame = (lzw = [0x44, 0x01], w = 1, h = 1, left = 0, top = 0) => {
  const d = Buffer.alloc(10);
  d[0] = 0x2c;
  d.writeUInt16LE(left, 1);
  d.writeUInt16LE(top, 3);
  d.writeUInt16LE(w, 5);
  d.writeUInt16LE(h, 7);
  return Buffer.concat([d, Buffer.from([2, lzw.length, ...lzw, 0])]);
};
const gif = (...frames: Buffer[]) => Buffer.concat([GIF_HEAD, ...frames, Buffer.from([0x3b])]);

describe('GIF', () => {
  it('accepts a minimal GIF and the animated fixture', async () => {
    expect(ruleOf(await check('one.gif', gif(frame())))).toBe('ok');
    const r = await check('spin.gif', fixture('spinner.gif'));
    expect(r.ok && r.item).toMatchObject({ width: 24, height: 24 });
  });

  it('rejects a frame flood', async () => {
    const frames = Array.from({ length: 1001 }, () => frame());
    expect(messageOf(await check('flood.gif', gif(...frames)))).toBe('flood.gif: more than 1000 frames (image-bomb)');
  });

  it('rejects a frame descriptor far beyond the screen', async () => {
    expect(ruleOf(await check('far.gif', gif(frame([0x44, 0x01], 65535, 65535))))).toBe('image-bomb');
  });

  it('rejects an impossible LZW code', async () => {
    // clear(4), 0, then 7 while the next free code is 6
    expect(messageOf(await check('lzw.gif', gif(frame(), frame([0xc4, 0x01]))))).toBe('lzw.gif: GIF frame 2 has a broken LZW stream (corrupt)');
  });

  it('rejects a truncated GIF', async () => {
    const g = fixture('spinner.gif');
    expect(messageOf(await check('cut.gif', g.subarray(0, g.length - 40)))).toBe('cut.gif: GIF is truncated (corrupt)');
  });

  it('calls a script behind a GIF89a magic disguised', async () => {
    expect(messageOf(await check('shell.gif', 'GIF89a1\r<?php phpinfo(); ?>\n'))).toBe('shell.gif: content is text behind a GIF signature (disguised)');
  });
});

describe('BMP', () => {
  it('rejects a truncated BMP', async () => {
    const b = fixture('checker.bmp');
    expect(messageOf(await check('cut.bmp', b.subarray(0, 1000)))).toBe('cut.bmp: BMP is truncated (pixel data extends past the end of the file) (corrupt)');
  });

  it('rejects an invalid bit count and huge dimensions', async () => {
    const bad = Buffer.from(fixture('checker.bmp'));
    bad.writeUInt16LE(30000, 28);
    expect(messageOf(await check('bits.bmp', bad))).toBe('bits.bmp: BMP has an invalid bit count 30000 (corrupt)');
    const big = Buffer.from(fixture('checker.bmp'));
    big.writeInt32LE(3_000_000, 18);
    big.writeInt32LE(2_000_000, 22);
    expect(ruleOf(await check('big.bmp', big))).toBe('image-bomb');
  });
});

describe('WebP', () => {
  it('rejects a RIFF size beyond the file', async () => {
    const w = fixture('sunset.webp');
    expect(messageOf(await check('cut.webp', w.subarray(0, w.length - 10)))).toBe('cut.webp: WebP is truncated (RIFF size exceeds the file) (corrupt)');
  });

  it('rejects a VP8X canvas over the pixel limit', async () => {
    const vp8x = Buffer.alloc(18);
    vp8x.write('VP8X', 0, 'latin1');
    vp8x.writeUInt32LE(10, 4);
    vp8x.writeUIntLE(20000 - 1, 12, 3);
    vp8x.writeUIntLE(20000 - 1, 15, 3);
    const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), vp8x]);
    const riff = Buffer.alloc(8);
    riff.write('RIFF', 0, 'latin1');
    riff.writeUInt32LE(body.length, 4);
    expect(ruleOf(await check('canvas.webp', Buffer.concat([riff, body])))).toBe('image-bomb');
  });
});

describe('ICO', () => {
  it('rejects an image entry pointing outside the file', async () => {
    const ico = Buffer.from(fixture('favicon.ico'));
    ico.writeUInt32LE(ico.length, 6 + 12);
    expect(messageOf(await check('out.ico', ico))).toBe('out.ico: ICO icon 1 data lies outside the file (corrupt)');
  });

  it('rejects an embedded DIB declaring a pixel flood', async () => {
    const ico = Buffer.from(fixture('favicon.ico'));
    const dib = ico.readUInt32LE(6 + 12);
    ico.writeInt32LE(65535, dib + 4);
    ico.writeInt32LE(65535 * 2, dib + 8);
    expect(messageOf(await check('bomb.ico', ico))).toBe('bomb.ico: icon 1 is 65535×65535 (4294.8 MP), over the 268.4 MP limit (image-bomb)');
  });
});

describe('TIFF', () => {
  it('rejects a directory offset outside the file', async () => {
    const t = Buffer.from(fixture('scan.tiff'));
    t.writeUInt32LE(t.length + 10, 4);
    expect(messageOf(await check('ifd.tiff', t))).toBe('ifd.tiff: TIFF directory offset points outside the file (corrupt)');
  });

  it('rejects a strip outside the file and a duplicated tag', async () => {
    const t = fixture('scan.tiff');
    expect(messageOf(await check('strip.tif', t.subarray(0, t.length - 100)))).toBe('strip.tif: TIFF strip 0 lies outside the file (corrupt)');
    const dup = Buffer.from(t);
    dup.writeUInt16LE(256, 8 + 2 + 12); // second entry (257) becomes another 256
    expect(ruleOf(await check('dup.tif', dup))).toBe('corrupt');
  });

  it('rejects page dimensions over the pixel limit', async () => {
    const t = Buffer.from(fixture('scan.tiff'));
    t.writeUInt16LE(4, 8 + 2 + 2); // ImageWidth as LONG
    t.writeUInt32LE(100_000, 8 + 2 + 8);
    t.writeUInt16LE(4, 8 + 2 + 12 + 2);
    t.writeUInt32LE(100_000, 8 + 2 + 12 + 8);
    expect(ruleOf(await check('huge.tiff', t))).toBe('image-bomb');
  });

  it('accepts BigTIFF', async () => {
    // Header (16) + IFD with width, length, strip offset, strip byte count.
    const entries = [
      [256, 3, 1, 2],
      [257, 3, 1, 2],
      [273, 16, 1, 0],
      [279, 16, 1, 4],
    ] as const;
    const ifdSize = 8 + entries.length * 20 + 8;
    const data = 16 + ifdSize;
    const b = Buffer.alloc(data + 4, 0x7f);
    b.write('II', 0, 'latin1');
    b.writeUInt16LE(43, 2);
    b.writeUInt16LE(8, 4);
    b.writeUInt16LE(0, 6);
    b.writeBigUInt64LE(16n, 8);
    b.writeBigUInt64LE(BigInt(entries.length), 16);
    entries.forEach(([tag, type, count, value], i) => {
      const o = 24 + i * 20;
      b.writeUInt16LE(tag, o);
      b.writeUInt16LE(type, o + 2);
      b.writeBigUInt64LE(BigInt(count), o + 4);
      b.writeBigUInt64LE(BigInt(tag === 273 ? data : value), o + 12);
    });
    b.writeBigUInt64LE(0n, 24 + entries.length * 20);
    const r = await check('big.tiff', b);
    expect(messageOf(r)).toBe('');
    expect(r.ok && r.item).toMatchObject({ format: 'tiff', width: 2, height: 2 });
  });
});

describe('video containers (for video policies)', () => {
  const videoPolicy: ValidationPolicy = {
    ...bachPolicy,
    formats: new Set(['mp4', 'mov', 'webm', 'mkv']),
    extensions: new Map([
      ['mp4', 'mp4'],
      ['m4v', 'mp4'],
      ['mov', 'mov'],
      ['webm', 'webm'],
      ['mkv', 'mkv'],
    ]),
  };
  const box = (type: string, body: Buffer = Buffer.alloc(0)) => {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(8 + body.length);
    h.write(type, 4, 'latin1');
    return Buffer.concat([h, body]);
  };
  const ftyp = box('ftyp', Buffer.from('isom\0\0\x02\0isomiso2mp41', 'latin1'));

  it('accepts boxes that tile the file with a moov, rejects an ftyp-only stub', async () => {
    const mp4 = Buffer.concat([ftyp, box('moov', box('mvhd', Buffer.alloc(100))), box('mdat', Buffer.alloc(64))]);
    expect(ruleOf(await check('ok.mp4', mp4, videoPolicy))).toBe('ok');
    expect(ruleOf(await check('ok.mp4', mp4))).toBe('unsupported-type');
    expect(messageOf(await check('stub.mp4', ftyp, videoPolicy))).toBe("stub.mp4: movie has no 'moov' box (no playable content) (corrupt)");
    expect(ruleOf(await check('cut.mp4', mp4.subarray(0, mp4.length - 10), videoPolicy))).toBe('corrupt');
  });

  it('rejects an AVI named .mp4 as disguised', async () => {
    const avi = Buffer.concat([Buffer.from('RIFF\x04\0\0\0AVI ', 'latin1')]);
    expect(messageOf(await check('clip.mp4', avi, videoPolicy))).toBe('clip.mp4: content is AVI, not MP4 (disguised)');
  });
});
