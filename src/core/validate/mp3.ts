/**
 * MP3 (MPEG-1/2/2.5 Layer III audio), recognised by its frames, not by a name or a tag. An MPEG
 * audio stream has no magic number: an ID3v2 tag in front proves nothing (a FLAC or an AAC file
 * can wear one), and one 11-bit frame sync occurs in any binary by chance. What does prove it is
 * a run of frames: each header valid (sync, a real version, Layer III, a listed bitrate and sample
 * rate), its length computed from bitrate, sample rate and padding, and the next header exactly
 * there, with version and sample rate unchanged.
 *
 * Accepted: at least {@link MIN_FRAMES} frames in a row; or a shorter run that reaches the end of
 * the file (an ID3v1 tag may follow) when it has two frames or its first frame carries a
 * Xing/Info/VBRI header (a tiny file can be one frame). The first frame is looked for within
 * {@link RESYNC_BYTES} of the start or of the end of the ID3v2 tag: tags whose stated size is a
 * few bytes off are common, and players resync over them.
 */
import type { Shape } from './limits.js';
import { fail, type ByteSource } from './source.js';

export const MIN_FRAMES = 4;
const RESYNC_BYTES = 4096;
/** Bytes to read from where the frames should start: the resync window and several of the largest frames (1,441 bytes). */
export const MP3_WINDOW = RESYNC_BYTES + (MIN_FRAMES + 1) * 1441;

const BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
/** Sample rates by version bits (0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1; 1 is reserved). */
const RATES: Record<number, number[]> = { 0: [11025, 12000, 8000], 2: [22050, 24000, 16000], 3: [44100, 48000, 32000] };

interface FrameHeader {
  version: number;
  rate: number;
  length: number;
  /** Where a Xing/Info header would sit (after the side information). */
  xingAt: number;
}

/** The Layer III frame header at `i`, or undefined. */
function header(b: Buffer, i: number): FrameHeader | undefined {
  if (i + 4 > b.length || b[i] !== 0xff || (b[i + 1]! & 0xe0) !== 0xe0) return undefined;
  const version = (b[i + 1]! >> 3) & 3;
  const layer = (b[i + 1]! >> 1) & 3;
  const bitrateIndex = b[i + 2]! >> 4;
  const rateIndex = (b[i + 2]! >> 2) & 3;
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3 || (b[i + 3]! & 3) === 2) return undefined;
  const rate = RATES[version]![rateIndex]!;
  const v1 = version === 3;
  const bitrate = (v1 ? BITRATES_V1 : BITRATES_V2)[bitrateIndex]! * 1000;
  const length = Math.floor(((v1 ? 144 : 72) * bitrate) / rate) + ((b[i + 2]! >> 1) & 1);
  const mono = b[i + 3]! >> 6 === 3;
  const side = v1 ? (mono ? 17 : 32) : mono ? 9 : 17;
  const crc = (b[i + 1]! & 1) === 0 ? 2 : 0;
  return { version, rate, length, xingAt: i + 4 + crc + side };
}

const tagAt = (b: Buffer, i: number, tags: string[]) => tags.includes(b.toString('latin1', i, i + 4));

/**
 * Whether a run of frames starting at `at` makes MP3. `buf` holds the bytes from offset 0 of the
 * region; `total` is how long the region really is (more than `buf` when only a head was read).
 */
function runAt(buf: Buffer, at: number, total: number): boolean {
  const first = header(buf, at);
  if (!first) return false;
  let frames = 0;
  let pos = at;
  for (;;) {
    const h = header(buf, pos);
    if (!h || h.version !== first.version || h.rate !== first.rate) break;
    frames++;
    pos += h.length;
    if (frames >= MIN_FRAMES) return true;
  }
  // A short run counts only when it ends the file (or an ID3v1 tag does).
  const atEnd = pos >= total || (pos + 128 === total && buf.toString('latin1', pos, pos + 3) === 'TAG');
  if (!atEnd) return false;
  const xing = tagAt(buf, first.xingAt, ['Xing', 'Info']) || tagAt(buf, at + 36, ['VBRI']);
  return frames >= 2 || xing;
}

/** Where MPEG Layer III frames start in `buf` (within the resync window after `from`), or -1. */
export function mpegAudioStart(buf: Buffer, from: number, total: number): number {
  const end = Math.min(buf.length - 4, from + RESYNC_BYTES);
  for (let i = buf.indexOf(0xff, from); i >= 0 && i <= end; i = buf.indexOf(0xff, i + 1)) {
    if (runAt(buf, i, total)) return i;
  }
  return -1;
}

/** Bytes an ID3v2 tag at `i` takes (header, body, footer), or 0 when there is none. */
export function id3v2Length(b: Buffer, i = 0): number {
  if (b.length < i + 10 || b.toString('latin1', i, i + 3) !== 'ID3' || b[i + 3]! > 4 || b[i + 3] === 0xff) return 0;
  const size = b.subarray(i + 6, i + 10);
  if (size.some((x) => x >= 0x80)) return 0;
  const body = (size[0]! << 21) | (size[1]! << 14) | (size[2]! << 7) | size[3]!;
  return 10 + body + (b[i + 5]! & 0x10 ? 10 : 0);
}

/** MP3 by its frames, for a file whose content starts at `from` of `src` (after any ID3 tags). */
export async function isMp3At(src: ByteSource, from: number, head?: Buffer): Promise<boolean> {
  const window = from === 0 && head && head.length >= Math.min(src.size, MP3_WINDOW) ? head : await src.read(from, MP3_WINDOW);
  return mpegAudioStart(window, 0, src.size - from) >= 0;
}

/** The structure check of CHECKERS: the frames after the tag (sniff found them; a changed file may not have them). */
export async function checkMp3(src: ByteSource): Promise<Shape> {
  let at = 0;
  for (let n = 0; n < 8; n++) {
    const tag = id3v2Length(await src.read(at, 10));
    if (!tag) break;
    at += tag;
  }
  if (!(await isMp3At(src, at))) fail('corrupt', `no run of MPEG audio frames after ${at ? 'the ID3 tag' : 'the start'}`);
  return {};
}
