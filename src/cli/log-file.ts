/**
 * --log-file PATH: the plain renderer's lines (already redacted by it), each prefixed with an
 * ISO time and the process id, appended to PATH. Past `maxBytes` the file is rotated the way
 * logrotate names them: PATH → PATH.1 → PATH.2 … up to `keep` old files; the oldest is dropped.
 *
 * Writes are synchronous: a line is on disk before the next event, so a cron job that is killed
 * leaves a log that says how far it got. Lines are few (outcomes and a progress line every 5 s).
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogFileOptions } from './run-flags.js';
import type { OutStream } from './render/types.js';

export class RotatingLog implements OutStream {
  #fd: number;
  #size: number;
  #partial = '';
  #closed = false;

  constructor(
    private readonly opts: LogFileOptions,
    private readonly now: () => number = Date.now,
  ) {
    mkdirSync(dirname(opts.path), { recursive: true });
    this.#fd = openSync(opts.path, 'a');
    this.#size = fstatSync(this.#fd).size;
  }

  /** Text from a renderer: complete lines are written, each with its time and pid. */
  write(chunk: string): boolean {
    if (this.#closed) return false;
    const text = this.#partial + chunk;
    const end = text.lastIndexOf('\n');
    this.#partial = text.slice(end + 1);
    if (end < 0) return true;
    const stamp = `${new Date(this.now()).toISOString()} [${process.pid}] `;
    const lines = text
      .slice(0, end)
      .split('\n')
      .map((l) => `${stamp}${l}\n`)
      .join('');
    const bytes = Buffer.from(lines);
    if (this.#size > 0 && this.#size + bytes.length > this.opts.maxBytes) this.#rotate();
    writeSync(this.#fd, bytes);
    this.#size += bytes.length;
    return true;
  }

  #rotate(): void {
    closeSync(this.#fd);
    const { path, keep } = this.opts;
    rmSync(`${path}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      try {
        renameSync(`${path}.${i}`, `${path}.${i + 1}`);
      } catch {
        /* that generation does not exist yet */
      }
    }
    renameSync(path, `${path}.1`);
    this.#fd = openSync(path, 'a');
    this.#size = 0;
  }

  close(): void {
    if (this.#closed) return;
    if (this.#partial) this.write('\n');
    this.#closed = true;
    closeSync(this.#fd);
  }
}
