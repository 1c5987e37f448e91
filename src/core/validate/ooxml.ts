/**
 * Office Open XML documents (.docx) are ZIP archives by structure. When a policy allows docx, a
 * `.docx` is checked as a document, not as an upload archive: its central directory must be
 * readable and hold the package's `[Content_Types].xml` and a `word/*.xml` part. Nothing is
 * inflated and the archive rules (nested archives, image entries) do not apply — the server
 * reads the document, it does not unpack it. A plain ZIP renamed `.docx` is `disguised`.
 *
 * sniff() names content `docx` whenever the name claims it and the bytes are a ZIP (file-type
 * only recognises a docx when `[Content_Types].xml` comes early), because this check verifies it.
 */
import type { ValidationPolicy } from '../types.js';
import type { Shape } from './limits.js';
import { fail, Problem, type ByteSource } from './source.js';
import { classify, openZip } from './zip.js';

/** ZIP-based formats that have a structure check here (sniff trusts the name for them). */
export const VERIFIED_CONTAINERS: ReadonlySet<string> = new Set(['docx']);

/** Enough for any real document; a directory of more entries is not worth walking. */
const MAX_ENTRIES = 100_000;

export async function checkDocx(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  let zf: Awaited<ReturnType<typeof openZip>>;
  try {
    zf = await openZip(src);
  } catch (err) {
    return fail('corrupt', `DOCX package: ${classify(err as Error).detail}`);
  }
  try {
    const limit = Math.max(policy.zip.maxEntries, MAX_ENTRIES);
    if (zf.entryCount > limit) fail('zip-bomb', `DOCX package has ${zf.entryCount} parts, over the limit of ${limit}`);
    let contentTypes = false;
    let wordPart = false;
    try {
      for await (const e of zf.eachEntry()) {
        const name = e.fileNameRaw.toString('utf8');
        if (name === '[Content_Types].xml') contentTypes = true;
        else if (/^word\/[^/]+\.xml$/.test(name)) wordPart = true;
      }
    } catch (err) {
      if (err instanceof Problem) throw err;
      const f = classify(err as Error);
      fail('corrupt', `DOCX package: ${f.detail}`);
    }
    if (!contentTypes) fail('disguised', 'content is ZIP, not DOCX (no [Content_Types].xml)');
    if (!wordPart) fail('disguised', 'content is ZIP, not DOCX (no word/ document part)');
    return {};
  } finally {
    zf.close();
  }
}
