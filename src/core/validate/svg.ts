/**
 * SVG: recognised by content (an XML document whose root element is `svg`), then checked with a
 * small non-validating XML reader — one root, balanced tags, quoted attributes without `<`, no
 * duplicate attributes, only predefined or numeric entity references — and scanned for content
 * that makes the file reach outside itself or run code once served from a CDN or rendered by a
 * server-side rasteriser:
 *   - `<script>` elements and `on*` event-handler attributes;
 *   - `javascript:`/`vbscript:` URLs anywhere;
 *   - href / xlink:href / src values with any scheme but `data:` (http:, file:, text:, …),
 *     protocol-relative or absolute paths — except plain hyperlinks (`<a href="https://…">`);
 *   - relative references on elements that load what they point at (image, use, feImage,
 *     script, iframe, …); relative references elsewhere (e.g. font-face-uri) are left alone;
 *   - CSS `@import` and `url(...)` other than `#fragment` / `data:`;
 *   - external or parameter entities and entities that expand other entities (XXE, billion
 *     laughs) — plain text entities, as Adobe Illustrator writes, are fine —, external DTDs
 *     other than the W3C ones, and `xml-stylesheet` processing instructions pointing elsewhere.
 * Namespaces are not validated. The whole file is read (it is at most the policy's size limit).
 */
import type { ValidationPolicy } from '../types.js';
import { checkPixels, type Shape } from './limits.js';
import { fail, type ByteSource } from './source.js';

const NAME = /[A-Za-z_:\u00C0-\uFFFF][\w.\-:\u00B7\u00C0-\uFFFF]*/y;
const WS = /[ \t\r\n]*/y;
const PREDEFINED = new Set(['lt', 'gt', 'amp', 'quot', 'apos']);
const LOADING_ELEMENTS = new Set([
  'image',
  'use',
  'feimage',
  'script',
  'iframe',
  'img',
  'embed',
  'object',
  'audio',
  'video',
  'source',
  'track',
  'link',
  'tref',
  'frame',
  'portal',
]);
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** Decode a head/whole buffer to text honouring a BOM (UTF-8 default). */
export function decodeText(b: Buffer): string {
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return b.toString('utf8', 3);
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return b.toString('utf16le', 2);
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) {
    const swapped = Buffer.from(b.subarray(2, b.length - (b.length % 2)));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return b.toString('utf8');
}

/** Skip the XML prolog (declaration, comments, PIs, doctype, whitespace); index of the root '<'. */
function skipProlog(s: string): number {
  let i = 0;
  for (;;) {
    while (i < s.length && ' \t\r\n'.includes(s[i]!)) i++;
    if (s.startsWith('<?', i)) {
      const e = s.indexOf('?>', i + 2);
      if (e < 0) return -1;
      i = e + 2;
    } else if (s.startsWith('<!--', i)) {
      const e = s.indexOf('-->', i + 4);
      if (e < 0) return -1;
      i = e + 3;
    } else if (/^<!DOCTYPE/i.test(s.slice(i, i + 9))) {
      const e = doctypeEnd(s, i);
      if (e < 0) return -1;
      i = e;
    } else {
      return i;
    }
  }
}

/** Index just past the doctype starting at i, honouring quotes and an internal subset. */
function doctypeEnd(s: string, i: number): number {
  let depth = 0;
  let quote = '';
  for (let j = i + 9; j < s.length; j++) {
    const c = s[j]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return j + 1;
  }
  return -1;
}

/** Does this head look like an SVG document (root element `svg`, any prefix)? */
export function looksLikeSvg(head: Buffer): boolean {
  const s = decodeText(head.subarray(0, 64 * 1024));
  const i = skipProlog(s);
  if (i < 0) return false;
  return /^<(?:[A-Za-z_][\w.-]*:)?svg(?:[\s/>]|$)/.test(s.slice(i, i + 64));
}

const localName = (n: string) => n.slice(n.lastIndexOf(':') + 1).toLowerCase();

type Entities = ReadonlyMap<string, string>;

/** Decode entity references (predefined, numeric, declared) in a value, for security checks. */
function decodeEntities(v: string, ents: Entities): string {
  return v.replace(/&(#x[0-9a-f]+|#\d+|[A-Za-z_][\w.-]*);/gi, (m, e: string) => {
    const custom = ents.get(e);
    if (custom !== undefined) return custom;
    const l = e.toLowerCase();
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16) || 0xfffd);
    if (l.startsWith('#')) return String.fromCodePoint(parseInt(l.slice(1), 10) || 0xfffd);
    return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[l] ?? m;
  });
}

/** Classify a URL-ish reference: 'internal' (#frag / data:), 'script', 'absolute' or 'relative'. */
function refKind(raw: string, ents: Entities): 'internal' | 'script' | 'absolute' | 'relative' {
  // Browsers drop ASCII whitespace and control characters inside URLs ("java\tscript:").
  const v = decodeEntities(raw, ents).replace(/[\u0000-\u0020\u007f]+/g, '');
  if (v === '' || v.startsWith('#')) return 'internal';
  if (/^(?:java|vb)script:/i.test(v)) return 'script';
  if (/^data:/i.test(v)) return 'internal';
  if (SCHEME.test(v) || v.startsWith('/') || v.startsWith('\\')) return 'absolute';
  return 'relative';
}

function checkCss(css: string, where: string, ents: Entities): void {
  if (/@import/i.test(css)) fail('unsafe-svg', `${where} imports an external stylesheet`);
  for (const m of css.matchAll(/url\(\s*(['"]?)(.*?)\1\s*\)/gi)) {
    if (refKind(m[2]!, ents) !== 'internal') fail('unsafe-svg', `${where} references an external resource '${m[2]}'`);
  }
}

function checkAttribute(element: string, name: string, value: string, ents: Entities): void {
  const el = localName(element);
  const attr = localName(name);
  if (attr.startsWith('on')) fail('unsafe-svg', `has an event handler attribute '${name}' on <${element}>`);
  if (attr === 'href' || attr === 'src') {
    const kind = refKind(value, ents);
    if (kind === 'script') fail('unsafe-svg', `has a script URL in <${element} ${name}>`);
    if (kind === 'absolute') {
      const isLink = el === 'a' && /^(?:https?|mailto):/i.test(decodeEntities(value, ents).trim());
      if (!isLink) fail('unsafe-svg', `references an external resource '${value}' (<${element} ${name}>)`);
    }
    if (kind === 'relative' && LOADING_ELEMENTS.has(el)) {
      fail('unsafe-svg', `references an external resource '${value}' (<${element} ${name}>)`);
    }
  }
  // style="…" and presentation attributes such as fill="url(#g)" / filter="url(…)".
  if (attr === 'style' || /url\(/i.test(value)) checkCss(decodeEntities(value, ents), `<${element} ${name}>`, ents);
}

const MAX_ENTITIES = 64;
const MAX_ENTITY_VALUE = 1024;

/**
 * Check a DOCTYPE and return the general entities it declares. Plain text entities (Adobe
 * Illustrator declares its namespaces that way) are allowed; external entities (XXE),
 * parameter entities and entities referring to other entities (billion laughs) are not.
 */
function checkDoctype(decl: string): Map<string, string> {
  const open = decl.indexOf('[');
  const close = decl.lastIndexOf(']');
  const external = open >= 0 ? decl.slice(0, open) : decl;
  const ids = [...external.matchAll(/(["'])(.*?)\1/g)].map((m) => m[2]!);
  const system = /\bSYSTEM\b/i.test(external) ? ids[0] : /\bPUBLIC\b/i.test(external) ? ids[1] : undefined;
  if (system !== undefined && !/^https?:\/\/www\.w3\.org\//i.test(system.trim())) {
    fail('unsafe-svg', `DOCTYPE references an external DTD '${system}'`);
  }
  const entities = new Map<string, string>();
  if (open < 0 || close < open) return entities;
  const subset = decl.slice(open + 1, close);
  for (const m of subset.matchAll(/<!ENTITY\s+(%\s+)?([^\s"'>]+)\s+([^>]*)>/gi)) {
    const [, param, name, rest] = m;
    if (param) fail('unsafe-svg', 'declares a parameter entity in its DOCTYPE');
    const v = /^(["'])([\s\S]*)\1\s*$/.exec(rest!.trim());
    if (!v) fail('unsafe-svg', `declares an external entity '${name}' in its DOCTYPE`);
    const value = v![2]!;
    if (/[&%]/.test(value) || value.length > MAX_ENTITY_VALUE) fail('unsafe-svg', `declares an expanding entity '${name}' in its DOCTYPE`);
    entities.set(name!, value);
    if (entities.size > MAX_ENTITIES) fail('unsafe-svg', 'declares too many entities in its DOCTYPE');
  }
  if ((subset.match(/<!ENTITY/gi) ?? []).length !== entities.size) fail('unsafe-svg', 'declares entities in its DOCTYPE that cannot be checked');
  return entities;
}

const bad = (detail: string): never => fail('corrupt', `SVG is not well-formed XML (${detail})`);

/** Parse, check well-formedness and safety; returns the root's width/height when absolute. */
export function inspectSvg(s: string): { rootAttrs: Map<string, string> } {
  const stack: string[] = [];
  let root: Map<string, string> | undefined;
  let rootClosed = false;
  let styleDepth = -1;
  let declared = new Map<string, string>();
  let i = 0;
  const n = s.length;

  const name = (at: number): string => {
    NAME.lastIndex = at;
    const m = NAME.exec(s);
    if (!m) return bad(`expected a name at character ${at}`);
    return m[0];
  };
  const ws = (at: number): number => {
    WS.lastIndex = at;
    WS.exec(s);
    return WS.lastIndex;
  };
  const checkRefs = (text: string, at: number) => {
    for (let k = text.indexOf('&'); k >= 0; k = text.indexOf('&', k + 1)) {
      const m = /^&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);/.exec(text.slice(k, k + 40));
      if (!m) bad(`bare '&' at character ${at + k}`);
      const ref = m![1]!;
      if (!ref.startsWith('#') && !PREDEFINED.has(ref) && !declared.has(ref)) bad(`undefined entity '&${ref};'`);
    }
  };

  while (i < n) {
    const c = s[i]!;
    if (c === '<') {
      if (s.startsWith('<!--', i)) {
        const e = s.indexOf('-->', i + 4);
        if (e < 0) bad('unterminated comment');
        i = e + 3;
      } else if (s.startsWith('<![CDATA[', i)) {
        if (stack.length === 0) bad('CDATA outside the root element');
        const e = s.indexOf(']]>', i + 9);
        if (e < 0) bad('unterminated CDATA section');
        if (styleDepth >= 0) checkCss(s.slice(i + 9, e), '<style>', declared);
        i = e + 3;
      } else if (/^<!DOCTYPE/i.test(s.slice(i, i + 9))) {
        if (root) bad('DOCTYPE after the root element');
        const e = doctypeEnd(s, i);
        if (e < 0) bad('unterminated DOCTYPE');
        declared = checkDoctype(s.slice(i, e));
        i = e;
      } else if (s.startsWith('<?', i)) {
        const e = s.indexOf('?>', i + 2);
        if (e < 0) bad('unterminated processing instruction');
        const pi = s.slice(i + 2, e);
        if (/^xml-stylesheet\b/i.test(pi)) {
          const href = /href\s*=\s*(["'])(.*?)\1/i.exec(pi)?.[2];
          if (href !== undefined && refKind(href, declared) !== 'internal') fail('unsafe-svg', `links an external stylesheet '${href}'`);
        }
        i = e + 2;
      } else if (s[i + 1] === '/') {
        const nm = name(i + 2);
        const j = ws(i + 2 + nm.length);
        if (s[j] !== '>') bad(`malformed end tag </${nm}>`);
        const open = stack.pop();
        if (open !== nm) bad(open ? `</${nm}> closes <${open}>` : `unexpected </${nm}>`);
        if (styleDepth === stack.length) styleDepth = -1;
        if (stack.length === 0) rootClosed = true;
        i = j + 1;
      } else {
        if (rootClosed) bad('content after the root element');
        const el = name(i + 1);
        let j = i + 1 + el.length;
        const attrs = new Map<string, string>();
        let selfClose = false;
        for (;;) {
          const k = ws(j);
          if (s[k] === '>') {
            j = k + 1;
            break;
          }
          if (s.startsWith('/>', k)) {
            j = k + 2;
            selfClose = true;
            break;
          }
          if (k >= n) bad(`unterminated <${el}> tag`);
          if (k === j) bad(`missing whitespace before an attribute in <${el}>`);
          const an = name(k);
          let p = ws(k + an.length);
          if (s[p] !== '=') bad(`attribute '${an}' in <${el}> has no value`);
          p = ws(p + 1);
          const q = s[p];
          if (q !== '"' && q !== "'") bad(`attribute '${an}' in <${el}> is not quoted`);
          const end = s.indexOf(q!, p + 1);
          if (end < 0) bad(`unterminated attribute '${an}' in <${el}>`);
          const value = s.slice(p + 1, end);
          if (value.includes('<')) bad(`'<' inside attribute '${an}' of <${el}>`);
          checkRefs(value, p + 1);
          if (attrs.has(an)) bad(`duplicate attribute '${an}' in <${el}>`);
          attrs.set(an, value);
          j = end + 1;
        }
        if (!root) {
          if (localName(el) !== 'svg') bad(`root element is <${el}>, not <svg>`);
          root = attrs;
        }
        if (localName(el) === 'script') fail('unsafe-svg', 'contains a <script> element');
        for (const [an, v] of attrs) checkAttribute(el, an, v, declared);
        if (!selfClose) {
          if (localName(el) === 'style' && styleDepth < 0) styleDepth = stack.length;
          stack.push(el);
        } else if (stack.length === 0) {
          rootClosed = true;
        }
        i = j;
      }
    } else {
      const next = s.indexOf('<', i);
      const end = next < 0 ? n : next;
      const text = s.slice(i, end);
      if (stack.length === 0) {
        if (text.trim() !== '') bad(root ? 'text after the root element' : 'text before the root element');
      } else {
        checkRefs(text, i);
        if (styleDepth >= 0) checkCss(text, '<style>', declared);
      }
      i = end;
    }
  }
  if (!root) bad('no root element');
  if (stack.length > 0) bad(`<${stack[stack.length - 1]}> is never closed`);
  return { rootAttrs: root! };
}

/** Absolute size from width/height (px or unitless), else the viewBox. */
function svgSize(attrs: Map<string, string>): Shape {
  const abs = (v: string | undefined) => {
    const m = v === undefined ? null : /^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$/.exec(v);
    return m ? Number(m[1]) : undefined;
  };
  let width = abs(attrs.get('width'));
  let height = abs(attrs.get('height'));
  const vb = attrs
    .get('viewBox')
    ?.trim()
    .split(/[\s,]+/)
    .map(Number);
  if (vb && vb.length === 4 && vb.every(Number.isFinite)) {
    width ??= vb[2];
    height ??= vb[3];
  }
  return width && height ? { width: Math.ceil(width), height: Math.ceil(height) } : {};
}

export async function checkSvg(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const text = decodeText(await src.read(0, src.size));
  if (text.includes('\u0000')) fail('corrupt', 'SVG contains NUL characters');
  const { rootAttrs } = inspectSvg(text);
  const shape = svgSize(rootAttrs);
  if (shape.width && shape.height) checkPixels(shape.width, shape.height, policy);
  return shape;
}
