/**
 * What the terminal shows while a run is under way, as lines that each fit the terminal's width:
 *
 *   1. the overall line, always first and always whole: files done, bytes sent, what the server
 *      has processed, batches in flight, then — as far as the width allows — the upload rate and
 *      its ETA and the server's ETA, each labelled (they measure different things); what does not
 *      fit on it continues on a second line, so a narrow terminal still sees batches in flight;
 *   2. as many lines as the terminal has rows for: files whose bytes are moving, batches the
 *      server is processing, renders; the rest summed up in a last line (`… 9 more batches`).
 *
 * Pure: the stats, the size of the terminal and the time in; lines out. A line drops its least
 * useful parts before it is ever cut, and an id is never cut in the middle.
 */
import { bar, displayName, formatBytes, formatDuration, truncateMiddle } from './format.js';
import type { BatchStats, Stats } from './stats.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SEP = ' · ';
/** Most item lines under the overall one, however tall the terminal. */
const MAX_ITEMS = 20;

export interface FrameSize {
  width: number;
  rows: number;
}

/** Where a rate is measured from: first sighting (time, amount). */
interface Origin {
  at: number;
  value: number;
}

/** Rates need a history: kept here, fed with the time of each frame. */
export class Rates {
  private readonly origins = new Map<string, Origin>();

  /** Units per second of `key` since it was first seen moving; undefined until a second has passed. */
  rate(key: string, value: number, now: number): number | undefined {
    const o = this.origins.get(key);
    if (!o || value < o.value) {
      this.origins.set(key, { at: now, value });
      return undefined;
    }
    const ms = now - o.at;
    return ms >= 1000 && value > o.value ? ((value - o.value) * 1000) / ms : undefined;
  }
}

/**
 * The parts, in order of importance, as long as they fit in `width`: the first is kept whatever
 * happens (cut at its end if it must be), the others only whole and only while each fits.
 */
export function fitParts(parts: readonly (string | undefined)[], width: number, sep = SEP): string {
  return packParts(parts, width, 1, sep)[0] ?? '';
}

/**
 * fitParts over up to `maxLines` lines: what does not fit on a line starts the next (indented),
 * so a narrow terminal still shows every part it has rows for, in order of importance.
 */
export function packParts(parts: readonly (string | undefined)[], width: number, maxLines: number, sep = SEP): string[] {
  const present = parts.filter((p): p is string => !!p);
  const out: string[] = [];
  let i = 0;
  while (i < present.length && out.length < maxLines) {
    let line = (out.length ? '  ' : '') + present[i++];
    while (i < present.length && line.length + sep.length + present[i]!.length <= width) line += sep + present[i++];
    // Only a line's first part may be cut; a later line whose first part cannot fit is not drawn.
    if (out.length && line.length > width) break;
    out.push(line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`);
  }
  return out;
}

export function frameLines(stats: Stats, size: FrameSize, now: number, rates: Rates, tick = 0): string[] {
  const width = Math.max(20, size.width);
  const lines = overall(stats, width, now, rates, tick);
  const room = Math.max(1, Math.min(MAX_ITEMS, (size.rows || 24) - 2 - lines.length));
  const items = itemLines(stats, width, now, rates);
  if (items.length <= room) return [...lines, ...items.map((i) => i.text)];
  const shown = items.slice(0, room - 1);
  const rest = items.slice(room - 1);
  const count = (kind: Item['kind']) => rest.filter((i) => i.kind === kind).length;
  const words = [
    count('file') && `${count('file')} more file${count('file') === 1 ? '' : 's'} uploading`,
    count('batch') && `${count('batch')} more batch${count('batch') === 1 ? '' : 'es'} processing`,
    count('render') && `${count('render')} more render${count('render') === 1 ? '' : 's'}`,
  ].filter(Boolean);
  return [...lines, ...shown.map((i) => i.text), fitParts([`  … ${words.join(', ')}`], width)];
}

/** The overall numbers: one line, or two when the terminal is too narrow for them all on one. */
function overall(stats: Stats, width: number, now: number, rates: Rates, tick: number): string[] {
  const { bytesSent: sent, bytesTotal: total, filesDone: done, filesTotal: files, batchesInFlight: inFlight, retries } = stats;
  const processed = stats.processed;
  const uploading = stats.uploadingBatches.length;
  const glyph = inFlight > 0 || stats.rendersActive > 0 ? SPINNER[tick % SPINNER.length]! : ' ';
  const upRate = rates.rate('\0upload', sent, now);
  const serverEta = maxServerEta(stats, now, rates);
  const frac = total > 0 ? sent / total : files > 0 ? done / files : 0;
  const bytes = total > 0 ? `${SEP}${formatBytes(sent)}/${formatBytes(total)}` : ''; // none to send: URLs, render specs
  const head = `${glyph} ${done}/${files} files${bytes}${processed.total ? `${SEP}${processed.done}/${processed.total} processed` : ''}`;
  return packParts(
    [
      head,
      inFlight ? `${inFlight} batch${inFlight === 1 ? '' : 'es'} in flight${uploading && uploading < inFlight ? ` (${uploading} uploading)` : ''}` : undefined,
      stats.rendersActive ? `${stats.rendersActive} rendering` : undefined,
      upRate && uploading ? `upload ${formatBytes(upRate)}/s${total > sent ? ` ETA ${formatDuration(((total - sent) / upRate) * 1000)}` : ''}` : undefined,
      serverEta !== undefined ? `server ETA ${formatDuration(serverEta)}` : undefined,
      retries ? `${retries} ${retries === 1 ? 'retry' : 'retries'}` : undefined,
      width >= 110 ? `${bar(frac, 20)} ${Math.floor(frac * 100)}%` : undefined,
    ],
    width,
    2,
  );
}

/** The longest time the server should still need for a batch it is processing, from its rate so far. */
function maxServerEta(stats: Stats, now: number, rates: Rates): number | undefined {
  let eta: number | undefined;
  for (const b of stats.pollingBatches) {
    const r = rates.rate(`batch\0${b.batchId}`, b.processed, now);
    if (r && b.total > b.processed) eta = Math.max(eta ?? 0, ((b.total - b.processed) / r) * 1000);
  }
  return eta;
}

interface Item {
  kind: 'file' | 'batch' | 'render';
  text: string;
}

function itemLines(stats: Stats, width: number, now: number, rates: Rates): Item[] {
  const out: Item[] = [];
  const nameWidth = Math.min(28, Math.max(12, Math.floor(width / 4)));
  for (const b of stats.batches.values()) {
    if (b.state === 'uploading') out.push(...fileLines(b, width, nameWidth, now, rates));
  }
  for (const b of stats.batches.values()) {
    if (b.state === 'polling' || b.state === 'submitted') out.push({ kind: 'batch', text: batchLine(b, width) });
  }
  // Every render of a batch still in flight, finished ones too: the user watches each to its end.
  for (const r of stats.renders.values()) {
    const state = stats.batches.get(r.batchId)?.state;
    if (state === 'done' || state === 'failed') continue;
    const label = truncateMiddle(r.source.slice(r.source.lastIndexOf('#') + 1).replace('!/', ' #'), nameWidth).padEnd(nameWidth);
    const head = `  ${label} ${bar(r.progress / 100, width >= 100 ? 20 : 10)} ${`${Math.round(r.progress)}%`.padStart(4)}`;
    out.push({ kind: 'render', text: fitParts([head, r.status, r.message ? `— ${r.message}` : undefined], width, ' ') });
  }
  return out;
}

function fileLines(b: BatchStats, width: number, nameWidth: number, now: number, rates: Rates): Item[] {
  const out: Item[] = [];
  for (const [source, total] of b.sizes) {
    const sent = b.sent.get(source) ?? 0;
    if (total > 0 && sent >= total) continue;
    const name = truncateMiddle(displayName(source), nameWidth).padEnd(nameWidth);
    const r = rates.rate(`file\0${b.batchId}\0${source}`, sent, now);
    const head = `  ${name} ${bar(total > 0 ? sent / total : 0, width >= 100 ? 20 : 10)} ${formatBytes(sent)}/${formatBytes(total)}`;
    out.push({ kind: 'file', text: fitParts([head, r ? `${formatBytes(r)}/s` : undefined], width, ' ') });
  }
  return out;
}

function batchLine(b: BatchStats, width: number): string {
  const count = b.total ? `${b.processed}/${b.total} processed` : 'sent, waiting for the server';
  return fitParts([`  batch ${b.batchId}`, count, b.pollStatus], width, ' ');
}

/** A line for the terminal above the block, broken at spaces into lines of at most `width` (a longer word is cut). */
export function wrapLine(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(' ')) {
      for (let w = word; w.length > 0; w = w.slice(width)) {
        const piece = w.slice(0, width);
        if (!line) line = piece;
        else if (line.length + 1 + piece.length <= width) line += ` ${piece}`;
        else {
          out.push(line);
          line = piece;
        }
        if (w.length <= width) break;
        out.push(line);
        line = '';
      }
    }
    out.push(line);
  }
  return out;
}
