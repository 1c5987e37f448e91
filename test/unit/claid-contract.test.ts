/** The claid contract's pure rules, shared by the client and the sandbox: resizing math, what the server refuses. */
import { describe, expect, it } from 'vitest';
import { operationsProblem, outputFormatOf, outputProblem, outputSize, parseStorageUri } from '../../src/providers/claid/contract.js';

const size = (w: number, h: number, resizing: unknown) => outputSize({ width: w, height: h }, resizing);

describe('resizing: the output size', () => {
  it('one side given: the other keeps the aspect ratio, rounded half up', () => {
    expect(size(1000, 333, { width: 500 })).toEqual({ width: 500, height: 167 }); // 166.5 → 167
    expect(size(1000, 331, { width: 500 })).toEqual({ width: 500, height: 166 }); // 165.5 → 166
    expect(size(200, 300, { width: 500 })).toEqual({ width: 500, height: 750 });
    expect(size(640, 480, { height: 240 })).toEqual({ width: 320, height: 240 });
    expect(size(640, 480, { width: 'auto', height: 100 })).toEqual({ width: 133, height: 100 });
    expect(size(3, 1000, { width: 1 })).toEqual({ width: 1, height: 333 });
    expect(size(1000, 3, { width: 1 })).toEqual({ width: 1, height: 1 }); // never 0
  });

  it('percentages scale both sides', () => {
    expect(size(333, 101, { width: '50%' })).toEqual({ width: 167, height: 51 });
    expect(size(100, 80, { width: '150%', height: '150%' })).toEqual({ width: 150, height: 120 });
    expect(size(100, 80, { height: '25%' })).toEqual({ width: 25, height: 20 });
  });

  it('both sides in pixels: crop, canvas and outpaint give exactly w×h; bounds fits inside; cover covers', () => {
    for (const fit of ['crop', 'canvas', 'outpaint', undefined, { type: 'crop', crop: 'smart' }]) {
      expect(size(1000, 500, { width: 300, height: 300, fit })).toEqual({ width: 300, height: 300 });
    }
    expect(size(1000, 500, { width: 300, height: 300, fit: 'bounds' })).toEqual({ width: 300, height: 150 });
    expect(size(500, 1000, { width: 300, height: 300, fit: 'bounds' })).toEqual({ width: 150, height: 300 });
    expect(size(1000, 500, { width: 300, height: 300, fit: 'cover' })).toEqual({ width: 600, height: 300 });
    expect(size(500, 1000, { width: 300, height: 300, fit: { type: 'cover' } })).toEqual({ width: 300, height: 600 });
  });

  it('no resizing keeps the size', () => {
    expect(size(123, 45, undefined)).toEqual({ width: 123, height: 45 });
    expect(size(123, 45, {})).toEqual({ width: 123, height: 45 });
    expect(size(123, 45, null)).toEqual({ width: 123, height: 45 });
  });
});

describe('what the server refuses in operations', () => {
  it('takes the documented sections only, naming the unknown one', () => {
    expect(operationsProblem({ resizing: { width: 500 }, background: { remove: true }, padding: '10%', privacy: null })).toBeUndefined();
    expect(operationsProblem({})).toBeUndefined();
    expect(operationsProblem({ resize: { width: 500 } })).toEqual({ kind: 'extra', path: ['operations', 'resize'], message: 'extra fields not permitted' });
    expect(operationsProblem({ resizing: { width: 500, depth: 3 } })?.path).toEqual(['operations', 'resizing', 'depth']);
  });

  it('checks the shape of each section', () => {
    expect(operationsProblem(undefined)?.message).toBe('field required');
    expect(operationsProblem([1])?.kind).toBe('type');
    expect(operationsProblem({ background: true })?.path).toEqual(['operations', 'background']);
    expect(operationsProblem({ padding: 10 })?.path).toEqual(['operations', 'padding']);
    expect(operationsProblem({ resizing: { width: -5 } })?.path).toEqual(['operations', 'resizing', 'width']);
    expect(operationsProblem({ resizing: { height: 'big' } })?.path).toEqual(['operations', 'resizing', 'height']);
    expect(operationsProblem({ resizing: { width: 5, fit: 'stretch' } })?.path).toEqual(['operations', 'resizing', 'fit']);
  });

  it('pixels with a percentage, two different percentages, both auto: a rule of the contract (422 9000)', () => {
    expect(operationsProblem({ resizing: { width: 500, height: '50%' } })).toMatchObject({ kind: 'value', message: expect.stringMatching(/both be pixels/) });
    expect(operationsProblem({ resizing: { width: '40%', height: '50%' } })).toMatchObject({ kind: 'value', message: expect.stringMatching(/equal/) });
    expect(operationsProblem({ resizing: { width: 'auto', height: 'auto' } })).toMatchObject({ kind: 'value' });
    expect(operationsProblem({ resizing: { width: '50%', height: '50%' } })).toBeUndefined();
  });
});

describe('output', () => {
  it('a storage URI, or {format, destination, metadata}', () => {
    expect(outputProblem(undefined)).toBeUndefined();
    expect(outputProblem('storage://shop/out/')).toBeUndefined();
    expect(outputProblem({ format: 'png', destination: 'storage://shop/out/', metadata: { dpi: 300 } })).toBeUndefined();
    expect(outputProblem({ format: { type: 'webp', compression: 'lossless' } })).toBeUndefined();
    expect(outputProblem('https://elsewhere/out/')?.kind).toBe('value');
    expect(outputProblem({ format: 'gif' })?.path).toEqual(['output', 'format']);
    expect(outputProblem({ where: 'x' })).toMatchObject({ kind: 'extra', path: ['output', 'where'] });
  });

  it('the format asked for, jpeg by default', () => {
    expect(outputFormatOf(undefined)).toBe('jpeg');
    expect(outputFormatOf('storage://a/b/')).toBe('jpeg');
    expect(outputFormatOf({ format: 'png' })).toBe('png');
    expect(outputFormatOf({ format: { type: 'avif' } })).toBe('avif');
  });

  it('storage URIs: folders end in /, nothing climbs out', () => {
    expect(parseStorageUri('storage://shop/in/')).toEqual({ storage: 'shop', path: 'in/', folder: true });
    expect(parseStorageUri('storage://shop/in/a.jpg')).toEqual({ storage: 'shop', path: 'in/a.jpg', folder: false });
    expect(parseStorageUri('storage://shop/')).toEqual({ storage: 'shop', path: '', folder: true });
    expect(parseStorageUri('storage://shop/../other/')).toBeUndefined();
    expect(parseStorageUri('s3://shop/in/')).toBeUndefined();
  });
});
