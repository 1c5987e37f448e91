/**
 * Inputs and outputs of an edit. An input is judged by its real header (core's sniffer and
 * structure checks; AVIF/HEIC by their `ispe` box): its format, width and height become the
 * `input_object`. The output's size follows the contract's resizing rules, its format the
 * request's `output`; its bytes are a solid-colour image of exactly that size (encode.ts), stored
 * at a `tmp_url` (`/cdn/…`) or written to the destination storage folder.
 */
import { open } from 'node:fs/promises';
import {
  type ImageObject,
  INPUT_MEDIA,
  LIMITS,
  MESSAGES,
  OUTPUT_FORMATS,
  type OutputObject,
  destinationOf,
  megapixels,
  outputFormatOf,
  outputSize,
} from '../../../providers/claid/contract.js';
import type { ValidationPolicy } from '../../../core/types.js';
import { extensionOf, formatLabel } from '../../../core/validate/formats.js';
import { CHECKERS } from '../../../core/validate/index.js';
import { sniff } from '../../../core/validate/sniff.js';
import { FileSource, Problem } from '../../../core/validate/source.js';
import type { SandboxCore } from '../../kit/protocol.js';
import { type Rgb, solidImage } from './encode.js';
import type { Storages } from './storages.js';

export interface Decoded {
  /** batchup's canonical format name (jpg, png, …). */
  format: string;
  width: number;
  height: number;
}

const POLICY: ValidationPolicy = {
  formats: new Set(Object.keys(INPUT_MEDIA)),
  extensions: new Map(),
  maxFileSize: LIMITS.maxFileSize,
  maxPixels: LIMITS.maxInputPixels,
  maxFrames: Number.MAX_SAFE_INTEGER,
  zip: { maxEntries: 0, maxTotalUncompressed: 0, maxRatio: 1 },
};

/** Width and height from the `ispe` property of an AVIF/HEIC (it sits near the start). */
function ispe(head: Buffer): { width: number; height: number } | undefined {
  const at = head.indexOf('ispe', 4, 'latin1');
  if (at < 0 || at + 16 > head.length) return undefined;
  const width = head.readUInt32BE(at + 8);
  const height = head.readUInt32BE(at + 12);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/** The input's real format and size, or why the server refuses it (422). */
export async function readImage(path: string, size: number): Promise<Decoded | { problem: string }> {
  const fh = await open(path, 'r');
  try {
    const src = await FileSource.open(fh, size, 64 * 1024);
    const { format } = await sniff(src.head, src);
    if (!format) return { problem: MESSAGES.notAnImage };
    if (!INPUT_MEDIA[format]) return { problem: MESSAGES.unsupportedFormat(formatLabel(format)) };
    const shape = CHECKERS[format] ? await CHECKERS[format](src, POLICY) : ispe(src.head);
    if (!shape?.width || !shape.height) return { problem: MESSAGES.notAnImage };
    return { format, width: shape.width, height: shape.height };
  } catch (err) {
    if (err instanceof Problem && err.rule === 'image-bomb') return { problem: `The image is too large: ${err.detail}.` };
    if (err instanceof Problem || err instanceof RangeError) return { problem: MESSAGES.notAnImage };
    throw err;
  } finally {
    await fh.close();
  }
}

/** `input_object`: the file name's extension as given (the seed reports `pnj` for a JPEG), the real format. */
export function inputObject(name: string, d: Decoded): ImageObject {
  const media = INPUT_MEDIA[d.format]!;
  return { ext: extensionOf(name) || d.format, mps: megapixels(d.width, d.height), mime: media.mime, format: media.format, width: d.width, height: d.height };
}

/** An output's colour, from its input's content hash: distinct inputs, distinct outputs. */
const colourOf = (sha256: string): Rgb => [0, 2, 4].map((i) => Number.parseInt(sha256.slice(i, i + 2), 16)) as unknown as Rgb;

const stem = (name: string) => {
  const ext = extensionOf(name);
  return ext ? name.slice(0, -(ext.length + 1)) : name;
};

export interface EditRequest {
  input: Decoded;
  sha256: string;
  /** The input's name (or relative path within a storage folder): outputs in a folder keep it. */
  name: string;
  operations: Record<string, unknown>;
  output: unknown;
}

/** The output of one edit (made and placed), or why it cannot be (422). */
export async function makeOutput(core: SandboxCore, storages: Storages, r: EditRequest): Promise<OutputObject | { problem: string }> {
  const { width, height } = outputSize(r.input, r.operations.resizing);
  if (width > LIMITS.maxOutputSide || height > LIMITS.maxOutputSide) return { problem: MESSAGES.outputTooLarge(width, height) };
  const format = outputFormatOf(r.output);
  const spec = OUTPUT_FORMATS[format];
  const bytes = await solidImage(format, width, height, colourOf(r.sha256));
  const object: OutputObject = { ext: spec.ext, mps: megapixels(width, height), mime: spec.mime, format: spec.format, width, height };
  const destination = destinationOf(r.output);
  if (destination) return { ...object, ...(await storages.write(destination, `${stem(r.name)}.${spec.ext}`, bytes)) };
  const { sha256 } = await core.store.commit(
    await core.store.ingest(
      (async function* () {
        yield bytes;
      })(),
    ),
  );
  return { ...object, tmp_url: core.cdnUrl(sha256, spec.ext) };
}
