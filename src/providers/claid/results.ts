/**
 * From claid's answers to manifest entries (pure): an upload's `{input, output}` and a finished
 * batch's results, which carry no input URL and map back to the inputs by position only. Every
 * entry records `remote: {input_object, output_object}` (the upload endpoint's `input`/`output`
 * normalised to the batch names), `url` = the output's tmp_url (or, with a storage destination,
 * its object_uri — a bucket URI, not a download link) and, for a tmp_url, `expiresAt` one day
 * after the output was made.
 */
import { failedEntry, uploadedEntry } from '../../core/entries.js';
import type { ManifestEntry } from '../../core/manifest.js';
import type { BatchPlan } from '../../core/provider.js';
import { zipEntrySource } from '../../core/zip-source.js';
import { type BatchData, type ImageObject, LIMITS, type OutputObject, STATUS, parseStorageUri } from './contract.js';

/** What a poll shows: PAUSED is waiting too, not a failure. */
export const statusWord = (status: string) => (status === STATUS.paused ? STATUS.waiting : status);

export interface EntryTimes {
  finishedAt: string;
  /** The earliest the outputs can have been made (ms since epoch): their one-day lifetime counts from here. */
  madeAt: number;
}

/** The manifest fields of one output, or undefined when it names no place (neither tmp_url nor object_uri). */
export function outputFields(input: ImageObject, output: OutputObject, madeAt: number, id?: string): Partial<ManifestEntry> | undefined {
  const url = typeof output?.tmp_url === 'string' && output.tmp_url ? output.tmp_url : output?.object_uri;
  if (typeof url !== 'string' || !url) return undefined;
  return {
    url,
    ...(output.tmp_url ? { expiresAt: new Date(madeAt + LIMITS.tmpUrlTtlMs).toISOString() } : {}),
    ...(id ? { id } : {}),
    remote: { input_object: input, output_object: output },
  };
}

const noPlace = { code: 'PROTOCOL', message: 'the server named no tmp_url or object_uri for its output' };

/** The entry of one local file edited through the upload endpoint. */
export function uploadEntry(base: ManifestEntry, answer: { input: ImageObject; output: OutputObject }, t: EntryTimes & { id?: string }): ManifestEntry {
  const fields = outputFields(answer.input, answer.output, t.madeAt, t.id);
  return fields ? uploadedEntry(base, fields, t.finishedAt) : failedEntry(base, noPlace, t.finishedAt);
}

/**
 * The input's path under its folder, from where its output sits under the destination folder
 * (outputs keep their input's relative name, with the output's extension — put back the input's).
 */
function inputName(r: { input_object: ImageObject; output_object: OutputObject }, destination: string | undefined): string | undefined {
  const rel = outputPath(r.output_object, destination);
  if (!rel) return undefined;
  const ext = r.input_object?.ext;
  const dot = rel.lastIndexOf('.');
  return typeof ext === 'string' && ext && dot > rel.lastIndexOf('/') ? `${rel.slice(0, dot)}.${ext}` : rel;
}

function outputPath(output: OutputObject, destination: string | undefined): string | undefined {
  const dest = destination ? parseStorageUri(destination) : undefined;
  if (!dest) return undefined;
  const uri = output.claid_storage_uri;
  const prefix = `storage://${dest.storage}/${dest.path}`;
  if (typeof uri === 'string' && uri.startsWith(prefix) && uri.length > prefix.length) return uri.slice(prefix.length);
  const key = output.object_key;
  if (typeof key === 'string' && key.startsWith(dest.path) && key.length > dest.path.length) return key.slice(dest.path.length);
  return undefined;
}

/**
 * The entries of a finished batch. `bases` are the inputs' entries in submission order. DONE:
 * result i is input i (a storage folder: every result is an entry `<folder>!/<relative name>`).
 * ERROR: every input fails with the server's error text; CANCELLED: with code CANCELLED.
 */
export function batchEntries(batch: BatchPlan, bases: ManifestEntry[], data: BatchData, t: EntryTimes & { destination?: string }): ManifestEntry[] {
  const id = String(data.id);
  const failAll = (code: string, message: string) => bases.map((b) => failedEntry({ ...b, id }, { code, message }, t.finishedAt));
  if (data.status === STATUS.cancelled) return failAll('CANCELLED', `batch ${id} was cancelled on the server`);
  if (data.status === STATUS.error) {
    const text = data.errors
      .map((e) => e?.error)
      .filter(Boolean)
      .join('; ');
    return failAll('REMOTE', `batch ${id} failed on the server: ${text || 'no error given'}`);
  }
  if (batch.items.length === 1 && batch.items[0]!.kind === 'storage') {
    if (data.results.length === 0) return failAll('REMOTE', `batch ${id} finished with no outputs`);
    const { size: _s, mtimeMs: _m, sha256: _h, ...folder } = bases[0]!;
    return data.results.map((r, index) => {
      const rel = inputName(r, t.destination) ?? `result-${index + 1}`;
      const e: ManifestEntry = { ...folder, source: zipEntrySource(folder.source, rel), name: rel, index };
      const fields = outputFields(r.input_object, r.output_object, t.madeAt, id);
      return fields ? uploadedEntry(e, fields, t.finishedAt) : failedEntry({ ...e, id }, noPlace, t.finishedAt);
    });
  }
  if (data.results.length !== bases.length) {
    return failAll('PROTOCOL', `batch ${id} reported ${data.results.length} results for ${bases.length} inputs: they cannot be matched by position`);
  }
  return bases.map((b, i) => {
    const r = data.results[i]!;
    const fields = outputFields(r.input_object, r.output_object, t.madeAt, id);
    return fields ? uploadedEntry(b, fields, t.finishedAt) : failedEntry({ ...b, id }, noPlace, t.finishedAt);
  });
}
