import { describe, expect, it } from 'vitest';
import { inputEntry, uploadedEntry } from '../../src/core/entries.js';

describe('manifest entries', () => {
  it('fields in a fixed order, undefined ones left out, an upload clears the failure fields', () => {
    const e = inputEntry('bach', { source: '/a.png', kind: 'file', path: '/a.png', size: 3, name: 'a.png' } as never, {
      batchId: 'b1',
      mode: undefined,
      index: 0,
      startedAt: 't0',
    });
    expect(JSON.stringify(e)).toBe('{"source":"/a.png","status":"failed","provider":"bach","name":"a.png","size":3,"batchId":"b1","index":0,"startedAt":"t0"}');
    const u = uploadedEntry({ ...e, code: 'HTTP', error: 'x' }, { url: 'https://cdn/a.png', expiresAt: undefined, size: 4 }, 't1');
    expect(JSON.stringify(u)).toBe(
      '{"source":"/a.png","status":"uploaded","provider":"bach","name":"a.png","size":4,"batchId":"b1","index":0,"startedAt":"t0","url":"https://cdn/a.png","finishedAt":"t1"}',
    );
  });
});
