/**
 * The last safety net for secrets: every line the CLI prints (human or NDJSON) passes through
 * `redact()`, which replaces each registered secret value with `***`.
 *
 * Secrets are registered as soon as they are resolved (token, secret key, a sandbox throwaway
 * token). Values shorter than MIN_SECRET_LENGTH are not registered: replacing "1" everywhere would
 * wreck the output while protecting nothing (real tokens are long). `Bearer <anything>` is masked
 * too, in case a header ever ends up in an error message.
 */
export const MIN_SECRET_LENGTH = 4;
export const MASK = '***';

export class Redactor {
  #secrets = new Set<string>();
  /** Longest first, so a secret that contains another is replaced whole. */
  #sorted: string[] = [];

  add(value: string | undefined | null): void {
    if (typeof value !== 'string') return;
    const variants = new Set<string>([value, value.trim()]);
    // The same secret as it would appear inside a JSON string (NDJSON lines).
    variants.add(JSON.stringify(value.trim()).slice(1, -1));
    // The same secret as it would appear in a URL or query string.
    try {
      variants.add(encodeURIComponent(value.trim()));
    } catch {
      /* lone surrogate: nothing to add */
    }
    let changed = false;
    for (const v of variants) {
      if (v.length >= MIN_SECRET_LENGTH && !this.#secrets.has(v)) {
        this.#secrets.add(v);
        changed = true;
      }
    }
    if (changed) this.#sorted = [...this.#secrets].sort((a, b) => b.length - a.length);
  }

  clear(): void {
    this.#secrets.clear();
    this.#sorted = [];
  }

  get size(): number {
    return this.#secrets.size;
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#sorted) {
      if (out.includes(secret)) out = out.split(secret).join(MASK);
    }
    return out.replace(/\b(Bearer|Basic)\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]+/g, `$1 ${MASK}`);
  }
}

/** The process-wide redactor every renderer and the error printer use. */
export const redactor = new Redactor();

export function addSecret(value: string | undefined | null): void {
  redactor.add(value);
}

export function redact(text: string): string {
  return redactor.redact(text);
}

/** For `config get/list`: never the value, only that it is set and how long it is. */
export function maskSecret(value: string): string {
  return `******** (${value.length} chars)`;
}
