import { describe, expect, it } from 'vitest';
import { MASK, Redactor, maskSecret } from '../../src/cli/redact.js';

describe('Redactor', () => {
  it('replaces every occurrence of every secret', () => {
    const r = new Redactor();
    r.add('tok_abcdef123456');
    r.add('s3cr3t-key-value');
    expect(r.redact('token tok_abcdef123456 and tok_abcdef123456, key s3cr3t-key-value')).toBe(`token ${MASK} and ${MASK}, key ${MASK}`);
  });
  it('replaces the longest secret first', () => {
    const r = new Redactor();
    r.add('abcd');
    r.add('abcdefgh');
    expect(r.redact('x abcdefgh y')).toBe(`x ${MASK} y`);
  });
  it('catches the URL-encoded form and surrounding whitespace', () => {
    const r = new Redactor();
    r.add('  a+b/c=d&e  ');
    expect(r.redact('?t=a%2Bb%2Fc%3Dd%26e')).toBe(`?t=${MASK}`);
    expect(r.redact('a+b/c=d&e')).toBe(MASK);
  });
  it('ignores empty and very short values', () => {
    const r = new Redactor();
    r.add('');
    r.add('ab');
    r.add(undefined);
    expect(r.size).toBe(0);
    expect(r.redact('ab cd')).toBe('ab cd');
  });
  it('masks Bearer credentials even when not registered', () => {
    const r = new Redactor();
    expect(r.redact('Authorization: Bearer eyJhbGciOi.x.y')).toBe(`Authorization: Bearer ${MASK}`);
  });
  it('works inside JSON', () => {
    const r = new Redactor();
    r.add('supersecret');
    const line = r.redact(JSON.stringify({ type: 'retry', error: 'bad token supersecret' }));
    expect(JSON.parse(line)).toEqual({ type: 'retry', error: `bad token ${MASK}` });
  });
  it('maskSecret shows only the length', () => {
    expect(maskSecret('0123456789')).toBe('******** (10 chars)');
    expect(maskSecret('0123456789')).not.toContain('6789');
  });
});
