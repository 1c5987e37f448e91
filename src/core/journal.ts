/**
 * The journal: an append-only JSON-lines record of every step of a run, so a rerun resumes where
 * a crash (kill -9, a CI timeout, a dropped network) left off and an unchanged file is never sent
 * twice. Commit points (a batch about to be submitted, a batch's results) are fsync'd before the
 * run goes on. The manifest is generated from the state folded out of it.
 *
 * Records (`t` = type):
 *   file     {source, size, mtimeMs, sha256}             content fingerprint (from a full read)
 *   batch    {batchId, mode, sources[]}                  about to submit these, under this id
 *   entries  {batchId, entries[], params?}               final per-output results of a batch
 *   done     {source, entries[], params?, drop?}         one input final before its batch ended
 *                                                        (a file completed mid-batch); `drop`: kv
 *                                                        keys (its handles) gone with it
 *   forget   {sources[]}                                 drop these (pruned, or forced re-upload)
 *   kv       {key, value, batch?}                        provider session state (upload ids, parts);
 *                                                        with `batch`, dropped once that batch's entries land
 *   gen      {source, n}                                 times a source was batched (compacted form)
 *   salt     {value}                                     this state's own salt for derived batch ids, so
 *                                                        another manifest's upload of the same files
 *                                                        never finds (and adopts) this one's batches
 *
 * `params` is the provider's fingerprint of its options (claid operations, an aihub batch name…):
 * an input done under other parameters is not done.
 *
 * A lock file (pid, host, start time) keeps two runs off the same state; a lock whose process is
 * gone (same host) is stale and taken over.
 */
import { closeSync, fsync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { BatchupError } from './errors.js';
import type { ManifestEntry } from './manifest.js';
import { inputOf } from './zip-source.js';

export type JournalRecord =
  | { t: 'file'; source: string; size: number; mtimeMs: number; sha256: string }
  | { t: 'batch'; batchId: string; mode: string; sources: string[]; at?: number }
  | { t: 'entries'; batchId: string; entries: ManifestEntry[]; params?: string }
  | { t: 'done'; source: string; entries: ManifestEntry[]; params?: string; drop?: string[] }
  | { t: 'forget'; sources: string[] }
  | { t: 'kv'; key: string; value: unknown; batch?: string }
  | { t: 'gen'; source: string; n: number }
  | { t: 'salt'; value: string };

export interface PendingBatch {
  batchId: string;
  mode: string;
  sources: string[];
  /** When it was announced (ms since epoch), just before its submission. */
  at?: number;
}

/** State folded from the records. Keys are input sources (ZIP entries grouped under their ZIP). */
export interface JournalState {
  files: Map<string, { size: number; mtimeMs: number; sha256: string }>;
  /** Latest final entries per input source. */
  entries: Map<string, ManifestEntry[]>;
  /** The provider parameters each input's entries were made with ('' when none). */
  params: Map<string, string>;
  /** Batches announced but without results: on resume they are polled, not resubmitted. */
  pending: Map<string, PendingBatch>;
  /** How many times each source has been put in a batch (salts derived batch ids). */
  generations: Map<string, number>;
  kv: Map<string, unknown>;
  /** kv keys that live only until a batch's results are recorded. */
  kvBatch: Map<string, string>;
  salt: string;
}

export function emptyState(): JournalState {
  return { files: new Map(), entries: new Map(), params: new Map(), pending: new Map(), generations: new Map(), kv: new Map(), kvBatch: new Map(), salt: '' };
}

export function fold(state: JournalState, r: JournalRecord): void {
  switch (r.t) {
    case 'file':
      state.files.set(r.source, { size: r.size, mtimeMs: r.mtimeMs, sha256: r.sha256 });
      break;
    case 'batch':
      state.pending.set(r.batchId, { batchId: r.batchId, mode: r.mode, sources: r.sources, ...(r.at ? { at: r.at } : {}) });
      for (const s of r.sources) state.generations.set(s, (state.generations.get(s) ?? 0) + 1);
      break;
    case 'entries': {
      state.pending.delete(r.batchId);
      for (const [key, batch] of state.kvBatch) {
        if (batch !== r.batchId) continue;
        state.kv.delete(key);
        state.kvBatch.delete(key);
      }
      const grouped = new Map<string, ManifestEntry[]>();
      for (const e of r.entries) {
        const k = inputOf(e.source);
        const list = grouped.get(k);
        if (list) list.push(e);
        else grouped.set(k, [e]);
      }
      for (const [k, v] of grouped) {
        state.entries.set(k, v);
        state.params.set(k, r.params ?? '');
      }
      break;
    }
    case 'done':
      state.entries.set(r.source, r.entries);
      state.params.set(r.source, r.params ?? '');
      for (const key of r.drop ?? []) {
        state.kv.delete(key);
        state.kvBatch.delete(key);
      }
      break;
    case 'forget':
      for (const s of r.sources) {
        state.entries.delete(s);
        state.params.delete(s);
        state.files.delete(s);
      }
      break;
    case 'gen':
      state.generations.set(r.source, r.n);
      break;
    case 'salt':
      state.salt = r.value;
      break;
    case 'kv':
      if (r.value === null) state.kv.delete(r.key);
      else state.kv.set(r.key, r.value);
      if (r.batch && r.value !== null) state.kvBatch.set(r.key, r.batch);
      else state.kvBatch.delete(r.key);
      break;
  }
}

/** Parse journal text; a torn last line (a crash mid-write) is ignored, as it was never committed. */
export function parseJournal(text: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch {
      /* torn write */
    }
  }
  return out;
}

export class Journal {
  readonly state: JournalState;
  private fd: number;
  private closed = false;
  /** fsyncs in flight (commit): the file is closed only once they are done. */
  private readonly syncing = new Set<Promise<void>>();

  private constructor(
    readonly dir: string,
    state: JournalState,
    fd: number,
  ) {
    this.state = state;
    this.fd = fd;
  }

  /** Read the state without locking or changing anything (dry runs). */
  static async peek(dir: string): Promise<JournalState> {
    const state = emptyState();
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8').catch(() => '');
    for (const r of parseJournal(text)) fold(state, r);
    return state;
  }

  static async open(dir: string): Promise<Journal> {
    await mkdir(dir, { recursive: true });
    await acquireLock(dir);
    const file = join(dir, 'journal.jsonl');
    const state = emptyState();
    const text = await readFile(file, 'utf8').catch(() => '');
    const records = parseJournal(text);
    for (const r of records) fold(state, r);
    // Compact (rewrite the folded state) when the journal has grown well past what it holds, so
    // it does not grow without bound across runs; and always after a torn last line, which the
    // next append would otherwise glue itself onto.
    const torn = text.length > 0 && !text.endsWith('\n');
    if (torn || records.length > 2 * snapshotRecords(state).length + 1000) await writeSnapshot(file, state);
    const fd = openSync(file, 'a');
    const journal = new Journal(dir, state, fd);
    // Not a commit point of its own: the salt only matters once a batch id derived from it is
    // announced, and that commit forces every earlier line to disk with it. (An fsync of a fresh
    // file here cost ~0.1 s of a 1,000-image run on a busy disk, on the event loop.)
    if (!state.salt) journal.append({ t: 'salt', value: randomBytes(8).toString('hex') });
    return journal;
  }

  /** Append a record; `commit` forces it to disk before returning (a commit point). */
  append(r: JournalRecord, commit = false): void {
    if (this.closed) return;
    writeSync(this.fd, `${JSON.stringify(r)}\n`);
    if (commit) fsyncSync(this.fd);
    fold(this.state, r);
  }

  /**
   * Append a record and force it to disk, off the event loop: resolves once it is there (a commit
   * point, like `append(r, true)`). Batches that commit at the same time wait for their fsyncs
   * side by side (the file system joins them) instead of one after another on the event loop.
   */
  commit(r: JournalRecord): Promise<void> {
    if (this.closed) return Promise.resolve();
    writeSync(this.fd, `${JSON.stringify(r)}\n`);
    fold(this.state, r);
    const fd = this.fd;
    const synced = new Promise<void>((ok, fail) => fsync(fd, (err) => (err ? fail(err) : ok())));
    this.syncing.add(synced);
    const forget = () => void this.syncing.delete(synced);
    synced.then(forget, forget);
    return synced;
  }

  kvGet<T>(key: string): T | undefined {
    return this.state.kv.get(key) as T | undefined;
  }

  kvPut(key: string, value: unknown, untilBatchDone?: string): void {
    this.append({ t: 'kv', key, value, ...(untilBatchDone ? { batch: untilBatchDone } : {}) }, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.syncing);
    fsyncSync(this.fd);
    closeSync(this.fd);
    await rm(join(this.dir, 'lock'), { force: true });
  }
}

function snapshotRecords(state: JournalState): JournalRecord[] {
  const out: JournalRecord[] = state.salt ? [{ t: 'salt', value: state.salt }] : [];
  for (const [source, f] of state.files) out.push({ t: 'file', source, ...f });
  for (const [source, entries] of state.entries) {
    const params = state.params.get(source);
    out.push({ t: 'done', source, entries, ...(params ? { params } : {}) });
  }
  for (const p of state.pending.values()) out.push({ t: 'batch', ...p });
  // After the pending batches (which count themselves again), so generations come out exact:
  // a re-upload must never reuse an earlier batch id.
  for (const [source, n] of state.generations) out.push({ t: 'gen', source, n });
  for (const [key, value] of state.kv) out.push({ t: 'kv', key, value, ...(state.kvBatch.has(key) ? { batch: state.kvBatch.get(key) } : {}) });
  return out;
}

async function writeSnapshot(file: string, state: JournalState): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  await fh.writeFile(
    snapshotRecords(state)
      .map((r) => JSON.stringify(r))
      .join('\n') + (state.files.size || state.entries.size || state.pending.size || state.kv.size ? '\n' : ''),
  );
  await fh.sync();
  await fh.close();
  await rename(tmp, file);
}

// ---------- lock ----------

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  /** The process's start time as /proc tells it (tells a reused pid apart). */
  procStart?: string;
}

/** A process's state and start time (clock ticks since boot) from /proc, where there is one. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' '); // the name may hold spaces
    return { state: rest[0]!, start: rest[19]! };
  } catch {
    return undefined;
  }
}

/**
 * Whether the run that wrote a lock is still running. A killed run can linger as a zombie, and
 * its pid can be reused by another process: with /proc, the start time recorded in the lock must
 * match and the process must not be a zombie.
 */
function alive(lock: LockInfo): boolean {
  if (procStat(process.pid)) {
    const p = procStat(lock.pid);
    return !!p && p.state !== 'Z' && (lock.procStart === undefined || p.start === lock.procStart);
  }
  try {
    process.kill(lock.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquireLock(dir: string): Promise<void> {
  const path = join(dir, 'lock');
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), procStart: procStat(process.pid)?.start };
  for (let tries = 0; tries < 2; tries++) {
    try {
      await writeFile(path, JSON.stringify(mine), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let other: LockInfo | undefined;
    try {
      other = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    } catch {
      other = undefined; // torn lock file: treat as stale
    }
    if (other && other.host === mine.host && alive(other) && other.pid !== process.pid) {
      throw new BatchupError(
        'USAGE',
        `another batchup run (pid ${other.pid}, started ${other.startedAt}) is using the state in ${dir}; wait for it or use another --state`,
      );
    }
    if (other && other.host !== mine.host) {
      throw new BatchupError('USAGE', `the state in ${dir} is locked by ${other.host} (pid ${other.pid}); remove ${path} if that run is gone`);
    }
    await rm(path, { force: true }); // stale: its process is gone
  }
  throw new BatchupError('USAGE', `could not lock ${dir}`);
}

/**
 * Default state folder: beside the manifest, one per manifest and per provider+endpoint, so a
 * sandbox run never makes a production run skip files (and two jobs never share state).
 */
export function defaultStateDir(manifestPath: string, provider: string, endpoint: string): string {
  const tag = createHash('sha256').update(`${provider}\0${endpoint}`).digest('hex').slice(0, 10);
  return join(dirname(manifestPath), '.batchup', `${basename(manifestPath)}.${provider}-${tag}`);
}
