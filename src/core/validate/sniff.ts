/**
 * What a file really is, from its bytes. Our own magic table comes first for every format we
 * check structurally — so a PNG signature followed by garbage is a *corrupt PNG* (not "unknown"),
 * and a "GIF89a" prefix is handed to the GIF walk, which exposes a script behind it. file-type
 * identifies everything else (PDF, PostScript, HEIC, 7z, …). SVG is recognised by content.
 * A ZIP is also recognised by its end-of-central-directory record when the start is damaged.
 */
import { isBmp } from './bmp.js';
import { fileTypeOf, ZIP_CONTAINERS } from './formats.js';
import { isGif } from './gif.js';
import { isIco } from './ico.js';
import { isJpeg } from './jpeg.js';
import { id3v2Length, isMp3At } from './mp3.js';
import { VERIFIED_CONTAINERS } from './ooxml.js';
import { isPng } from './png.js';
import { looksLikeText, type ByteSource } from './source.js';
import { looksLikeSvg } from './svg.js';
import { isTiff } from './tiff.js';
import { ebmlDocType, isAvi, isEbml, isIsoBmff } from './video.js';
import { isWebp } from './webp.js';

export interface Sniffed {
  /** Canonical format, when recognised. */
  format?: string;
  /** The head is mostly printable text (scripts, MVG, JSON, …). */
  text: boolean;
}

const EOCD = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const HEAD_BYTES = 64 * 1024;

/**
 * @param head first bytes of the file (up to 64 KiB)
 * @param claimed the format the extension claims, used only to name an ambiguous container
 *   (a Matroska file whose DocType is unreadable, an ISO BMFF brand file-type does not know)
 */
export async function sniff(head: Buffer, src: ByteSource, claimed?: string): Promise<Sniffed> {
  // Whether the head is text is asked only on a few paths (a disguise): worked out only then.
  const result = (format?: string): Sniffed => {
    let text: boolean | undefined;
    return {
      format,
      get text() {
        text ??= looksLikeText(head.subarray(0, 512));
        return text;
      },
    };
  };
  // An ID3 tag says nothing of what follows it (FLAC and AAC wear them too): sniff behind it.
  const tag = id3v2Length(head);
  if (tag) {
    const inner: ByteSource = { size: Math.max(0, src.size - tag), read: (at, n) => src.read(tag + at, n) };
    return result((await sniff(await inner.read(0, HEAD_BYTES), inner, claimed)).format);
  }
  if (isPng(head)) return result('png');
  if (isJpeg(head)) return result('jpg');
  if (isGif(head)) return result('gif');
  if (isWebp(head)) return result('webp');
  if (isAvi(head)) return result('avi');
  if (isTiff(head)) return result('tiff');
  if (isIco(head)) return result(head.readUInt16LE(2) === 2 ? 'cur' : 'ico');
  if (isEbml(head)) {
    const doc = ebmlDocType(head);
    const format = doc === 'webm' ? 'webm' : doc === 'matroska' ? 'mkv' : claimed === 'webm' ? 'webm' : 'mkv';
    return result(format);
  }
  if (isIsoBmff(head)) {
    const ft = await fileTypeOf(head);
    return result(ft ?? (claimed === 'mov' ? 'mov' : 'mp4'));
  }
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && head[3] === head[2] + 1) {
    const ft = await fileTypeOf(head);
    // A .docx is a ZIP by structure; call it what it is when the name says so. For containers
    // with a structure check (ooxml.ts) the name is trusted here and the check verifies it.
    if (claimed !== undefined && VERIFIED_CONTAINERS.has(claimed) && (ft === undefined || ft === 'zip' || ft === claimed)) {
      return result(claimed);
    }
    return result(ft && ZIP_CONTAINERS.has(ft) && claimed === ft ? ft : 'zip');
  }
  // Before file-type, which calls any XML document 'xml'.
  if (looksLikeSvg(head)) return result('svg');
  const ft = await fileTypeOf(head);
  if (ft && ft !== 'mp3') return result(ft);
  // MPEG audio has no magic number: a run of valid frames makes it MP3, one frame sync does not.
  if (await isMp3At(src, 0, head)) return result('mp3');
  // BMP's two-letter magic is weak: only after file-type had nothing better to say.
  if (isBmp(head)) return result('bmp');
  // A ZIP whose start is damaged still ends with an end-of-central-directory record.
  const tailLen = Math.min(src.size, 22 + 65535);
  const tail = src.size <= head.length ? head.subarray(head.length - tailLen) : await src.read(src.size - tailLen, tailLen);
  const at = tail.lastIndexOf(EOCD);
  if (at >= 0 && tail.length - at >= 22) {
    return result('zip');
  }
  return result();
}
