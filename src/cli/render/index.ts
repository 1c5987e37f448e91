/**
 * Picks a renderer:
 *   --json                                   → json  (NDJSON events on stdout, nothing else there)
 *   --quiet, --no-progress, stderr not a TTY,
 *   TERM=dumb, or a terminal of unknown width → plain (lines on stderr; no progress with --quiet
 *                                              or --no-progress)
 *   otherwise                                → tty   (bars + spinner on stderr)
 * Colour only on a TTY without NO_COLOR.
 */
import { colorEnabled } from './format.js';
import { JsonRenderer } from './json.js';
import { PlainRenderer } from './plain.js';
import type { RenderIO, Renderer } from './types.js';

export type { Renderer, RenderIO } from './types.js';

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** commander's `--no-progress` → progress: false */
  progress?: boolean;
}

export type RendererKind = Renderer['kind'];

export function pickRendererKind(flags: OutputFlags, stderr: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): RendererKind {
  if (flags.json) return 'json';
  if (flags.quiet || flags.progress === false) return 'plain';
  if (stderr.isTTY !== true || env.TERM === 'dumb') return 'plain';
  // A pty without a size (columns 0, e.g. `script` with no window) breaks line-count maths in the
  // spinner (division by zero → endless cursor-up output): fall back to plain lines.
  if (!stderr.columns || stderr.columns < 20) return 'plain';
  return 'tty';
}

/** The terminal renderer (ora, cli-progress) is loaded only when a terminal will show it. */
export async function createRenderer(
  flags: OutputFlags,
  io: RenderIO,
  env: NodeJS.ProcessEnv = process.env,
  extra: { now?: () => number; timer?: boolean } = {},
): Promise<Renderer> {
  const kind = pickRendererKind(flags, io.stderr, env);
  const opts = {
    quiet: Boolean(flags.quiet),
    verbose: Boolean(flags.verbose) && !flags.quiet,
    progress: flags.progress !== false && !flags.quiet,
    color: colorEnabled(io.stderr, env),
    ...extra,
  };
  switch (kind) {
    case 'json':
      return new JsonRenderer(io, opts);
    case 'tty': {
      const { TtyRenderer } = await import('./tty.js');
      return new TtyRenderer(io, opts);
    }
    default:
      return new PlainRenderer(io, opts);
  }
}
