/**
 * The state folded out of the journal's records: per input, its fingerprint, its latest final
 * entries (in their compact journal form, see journal-codec.ts: decoded only when asked for),
 * the parameters they were made with and how often it was batched; the batches announced
 * without results; provider session state; the salt of derived batch ids.
 *
 * One small object per input: the entries of a batch share one `ResultGroup` (what every entry
 * shares, its parameters), so 100,000 done inputs cost ~35 MB, not ~150 MB of entry objects.
 */
import { BatchupError } from './errors.js';
import { type Common, type EntryDiff, type Fingerprint, type InputResult, type ResInput, decodeEntries, encodeResults } from './journal-codec.js';
import type { ManifestEntry } from './manifest.js';
import { inputOf } from './zip-source.js';

/** The journal format this build writes (a `v` record opens a journal it wrote or compacted). */
export const JOURNAL_FORMAT = 2;

export type JournalRecord =
  | { t: 'v'; n: number }
  | { t: 'file'; source: string; size: number; mtimeMs: number; sha256: string }
  | { t: 'batch'; batchId: string; mode: string; sources: string[]; at?: number }
  /** Final entries of inputs (a batch's when `batchId` is set: it is no longer pending); `drop`: kv keys gone with them. */
  | { t: 'res'; batchId?: string; params?: string; c: Common; in: ResInput[]; drop?: string[] }
  | { t: 'forget'; sources: string[] }
  | { t: 'kv'; key: string; value: unknown; batch?: string }
  /** Times sources were batched (compacted form): one source (format 1), or several with one count. */
  | { t: 'gen'; source?: string; sources?: string[]; n: number }
  | { t: 'salt'; value: string }
  // Format 1 (read, never written): full manifest entries.
  | { t: 'entries'; batchId: string; entries: ManifestEntry[]; params?: string }
  | { t: 'done'; source: string; entries: ManifestEntry[]; params?: string; drop?: string[] };

export interface PendingBatch {
  batchId: string;
  mode: string;
  sources: string[];
  /** When it was announced (ms since epoch), just before its submission. */
  at?: number;
}

/** What the entries of one record share. */
export class ResultGroup {
  constructor(
    readonly common: Common,
    /** The provider parameters they were made with ('' when none). */
    readonly params: string,
  ) {}
}

/** What the journal knows of one input. */
export class InputRecord {
  /** Fingerprint (size < 0: none). */
  size = -1;
  mtimeMs = 0;
  sha256 = '';
  group: ResultGroup | undefined = undefined;
  diff: EntryDiff | EntryDiff[] | undefined = undefined;
  /** Position in its record (derived indexes). */
  pos = 0;
  /** Times batched (salts derived batch ids). */
  gen = 0;
  /** Seen among the current run's inputs (gone detection). */
  seen = false;

  get fingerprint(): Fingerprint | undefined {
    return this.size < 0 ? undefined : { size: this.size, mtimeMs: this.mtimeMs, sha256: this.sha256 };
  }
}

export class JournalState {
  readonly inputs = new Map<string, InputRecord>();
  /** Batches announced but without results: on resume they are polled, not resubmitted. */
  readonly pending = new Map<string, PendingBatch>();
  readonly kv = new Map<string, unknown>();
  /** kv keys that live only until a batch's results are recorded. */
  readonly kvBatch = new Map<string, string>();
  salt = '';
  /** Records of format 1 were read (the journal is rewritten in the current format). */
  legacy = false;

  private rec(source: string): InputRecord {
    let r = this.inputs.get(source);
    if (!r) {
      r = new InputRecord();
      this.inputs.set(source, r);
    }
    return r;
  }

  fingerprint(source: string): Fingerprint | undefined {
    return this.inputs.get(source)?.fingerprint;
  }

  /** Latest final entries of an input (undefined when none). */
  entries(source: string): ManifestEntry[] | undefined {
    const r = this.inputs.get(source);
    return r ? entriesOf(source, r) : undefined;
  }

  /** The parameters an input's entries were made with. */
  params(source: string): string {
    return this.inputs.get(source)?.group?.params ?? '';
  }

  generation(source: string): number {
    return this.inputs.get(source)?.gen ?? 0;
  }

  /** Sources that have entries. */
  *done(): Iterable<string> {
    for (const [source, r] of this.inputs) if (r.group) yield source;
  }

  setFile(source: string, size: number, mtimeMs: number, sha256: string): void {
    const r = this.rec(source);
    r.size = size;
    r.mtimeMs = mtimeMs;
    r.sha256 = sha256;
  }

  /** Apply a `res` record body. */
  setResults(params: string, c: Common, inputs: readonly ResInput[]): void {
    const group = new ResultGroup(c, params);
    inputs.forEach(([source, size, mtimeMs, sha256, diff], pos) => {
      const r = this.rec(source);
      if (sha256 !== null && size !== null && mtimeMs !== null) {
        r.size = size;
        r.mtimeMs = mtimeMs;
        r.sha256 = sha256;
      }
      if (Array.isArray(diff) && diff.length === 0) return;
      r.group = group;
      r.diff = diff;
      r.pos = pos;
    });
  }

  forget(source: string): void {
    const r = this.inputs.get(source);
    if (!r) return;
    r.group = undefined;
    r.diff = undefined;
    r.size = -1;
    if (!r.gen) this.inputs.delete(source);
  }

  addGeneration(source: string, n = 1): void {
    this.rec(source).gen += n;
  }

  setGeneration(source: string, n: number): void {
    this.rec(source).gen = n;
  }

  private batchDone(batchId: string): void {
    this.pending.delete(batchId);
    for (const [key, batch] of this.kvBatch) {
      if (batch !== batchId) continue;
      this.kv.delete(key);
      this.kvBatch.delete(key);
    }
  }

  private dropKv(keys: readonly string[] | undefined): void {
    for (const key of keys ?? []) {
      this.kv.delete(key);
      this.kvBatch.delete(key);
    }
  }

  /** Fold one record into the state. */
  fold(r: JournalRecord): void {
    switch (r.t) {
      case 'v':
        if (r.n > JOURNAL_FORMAT) {
          throw new BatchupError(
            'CONFIG',
            `the journal was written by a newer batchup (format ${r.n}; this one reads up to ${JOURNAL_FORMAT}): upgrade batchup, or give this run another --state`,
          );
        }
        break;
      case 'file':
        this.setFile(r.source, r.size, r.mtimeMs, r.sha256);
        break;
      case 'batch':
        this.pending.set(r.batchId, { batchId: r.batchId, mode: r.mode, sources: r.sources, ...(r.at ? { at: r.at } : {}) });
        for (const s of r.sources) this.addGeneration(s);
        break;
      case 'res':
        if (r.batchId) this.batchDone(r.batchId);
        this.setResults(r.params ?? '', r.c, r.in);
        this.dropKv(r.drop);
        break;
      case 'entries': {
        this.legacy = true;
        this.batchDone(r.batchId);
        const grouped = new Map<string, ManifestEntry[]>();
        for (const e of r.entries) {
          const k = inputOf(e.source);
          const list = grouped.get(k);
          if (list) list.push(e);
          else grouped.set(k, [e]);
        }
        this.setLegacy(
          r.params ?? '',
          [...grouped].map(([source, entries]) => ({ source, entries })),
        );
        break;
      }
      case 'done':
        this.legacy = true;
        this.setLegacy(r.params ?? '', [{ source: r.source, entries: r.entries }]);
        this.dropKv(r.drop);
        break;
      case 'forget':
        for (const s of r.sources) this.forget(s);
        break;
      case 'gen':
        for (const s of r.sources ?? (r.source !== undefined ? [r.source] : [])) this.setGeneration(s, r.n);
        break;
      case 'salt':
        this.salt = r.value;
        break;
      case 'kv':
        if (r.value === null) this.kv.delete(r.key);
        else this.kv.set(r.key, r.value);
        if (r.batch && r.value !== null) this.kvBatch.set(r.key, r.batch);
        else this.kvBatch.delete(r.key);
        break;
    }
  }

  /** Format-1 entries, stored compactly against the fingerprints already folded. */
  private setLegacy(params: string, inputs: InputResult[]): void {
    for (const input of inputs) input.fp = this.fingerprint(input.source);
    const body = encodeResults(inputs);
    this.setResults(params, body.c, body.in);
  }

  /** The records that rebuild this state (compaction), one batch of results per record as recorded. */
  *snapshot(): Iterable<JournalRecord> {
    yield { t: 'v', n: JOURNAL_FORMAT };
    if (this.salt) yield { t: 'salt', value: this.salt };
    const groups = new Map<ResultGroup, string[]>();
    for (const [source, r] of this.inputs) {
      if (r.group) {
        const list = groups.get(r.group);
        if (list) list.push(source);
        else groups.set(r.group, [source]);
      } else if (r.size >= 0) yield { t: 'file', source, size: r.size, mtimeMs: r.mtimeMs, sha256: r.sha256 };
    }
    for (const [group, sources] of groups) {
      // Positions restart from 0 in the rewritten record: derived indexes are kept as values.
      const inputs = sources.map((s) => ({ source: s, entries: this.entries(s)!, fp: this.fingerprint(s) }));
      const body = encodeResults(inputs);
      yield { t: 'res', ...(group.params ? { params: group.params } : {}), c: body.c, in: body.in };
    }
    for (const p of this.pending.values()) yield { t: 'batch', ...p };
    // After the pending batches (which count themselves again), so generations come out exact:
    // a re-upload must never reuse an earlier batch id.
    const byGen = new Map<number, string[]>();
    for (const [source, r] of this.inputs) {
      if (!r.gen) continue;
      const list = byGen.get(r.gen);
      if (list) list.push(source);
      else byGen.set(r.gen, [source]);
    }
    for (const [n, sources] of byGen) yield { t: 'gen', n, sources };
    for (const [key, value] of this.kv) yield { t: 'kv', key, value, ...(this.kvBatch.has(key) ? { batch: this.kvBatch.get(key) } : {}) };
  }

  /** Whether a snapshot would hold anything beyond the format and the salt. */
  get empty(): boolean {
    return this.inputs.size === 0 && this.pending.size === 0 && this.kv.size === 0;
  }
}

export function entriesOf(source: string, r: InputRecord): ManifestEntry[] | undefined {
  if (!r.group || r.diff === undefined) return undefined;
  return decodeEntries(source, r.fingerprint, r.group.common, r.diff, r.pos);
}

export function emptyState(): JournalState {
  return new JournalState();
}

/** Fold one record into a state (tests and tools; the journal folds what it appends). */
export function fold(state: JournalState, r: JournalRecord): void {
  state.fold(r);
}
