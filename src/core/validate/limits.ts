/** Shared shape of a structure check and the pixel/frame limit helpers every format uses. */
import type { ValidationPolicy } from '../types.js';
import type { ByteSource } from './source.js';
import { fail } from './source.js';

/** What a structure check learned (all optional: SVG may have no fixed size). */
export interface Shape {
  width?: number;
  height?: number;
  frames?: number;
}

export type Checker = (src: ByteSource, policy: ValidationPolicy) => Promise<Shape>;

const mp = (n: number) => (n / 1e6).toFixed(1);

/** Image bomb when width × height exceeds the policy. `what` e.g. "image", "frame 3", "icon 2". */
export function checkPixels(width: number, height: number, policy: ValidationPolicy, what = 'image'): void {
  const px = width * height;
  if (px > policy.maxPixels) {
    fail('image-bomb', `${what} is ${width}×${height} (${mp(px)} MP), over the ${mp(policy.maxPixels)} MP limit`);
  }
}

export function checkFrames(frames: number, policy: ValidationPolicy): void {
  if (frames > policy.maxFrames) {
    fail('image-bomb', `more than ${policy.maxFrames} frames`);
  }
}
