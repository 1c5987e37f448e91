/**
 * Remote names from a template. Placeholders: {name} file name, {stem} name without extension,
 * {ext} extension without dot, {parent} the folder's name, {index} position in scan order.
 */
import { basename, dirname, extname } from 'node:path';
import { usageError } from './errors.js';

const KNOWN = new Set(['name', 'stem', 'ext', 'parent', 'index']);

export function checkTemplate(template: string): void {
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    if (!KNOWN.has(m[1]!)) throw usageError(`--name-template: unknown placeholder {${m[1]}} (use {name} {stem} {ext} {parent} {index})`);
  }
}

export function remoteName(source: string, order: number, template?: string): string {
  const isUrl = /^https?:\/\//i.test(source);
  const path = isUrl ? new URL(source).pathname : source;
  const name = decodeSafe(basename(path)) || `image_${order}`;
  if (!template) return name;
  const ext = extname(name);
  const values: Record<string, string> = {
    name,
    stem: ext ? name.slice(0, -ext.length) : name,
    ext: ext.replace(/^\./, ''),
    parent: basename(dirname(path)),
    index: String(order),
  };
  return template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? '');
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
