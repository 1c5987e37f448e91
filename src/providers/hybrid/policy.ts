/**
 * What hybrid accepts, as a ValidationPolicy: videos, recognised by their bytes (MP4/MOV by the
 * `ftyp` box, WebM/MKV by the EBML header, AVI by RIFF) and checked for container structure, any
 * size above zero. The contract only says `type` must be `video/*`; AVI is a video type, so it is
 * accepted too (as `video/x-msvideo`). There is no practical size limit: the largest file is
 * bounded only by Number.MAX_SAFE_INTEGER bytes (8 PiB). The image/ZIP limits do not apply.
 */
import type { ValidationPolicy } from '../../core/types.js';
import { extensionMap } from '../../core/validate/formats.js';

/** Extension → canonical format (m4v → mp4, qt → mov). */
const extensions = extensionMap(['mp4', 'm4v', 'mov', 'qt', 'webm', 'mkv', 'avi']);

export const hybridPolicy: ValidationPolicy = {
  formats: new Set(extensions.values()),
  extensions,
  maxFileSize: Number.MAX_SAFE_INTEGER,
  maxPixels: Number.MAX_SAFE_INTEGER,
  maxFrames: Number.MAX_SAFE_INTEGER,
  zip: { maxEntries: 0, maxTotalUncompressed: 0, maxRatio: 1 },
};
