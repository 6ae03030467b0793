// The drawing -> MNIST preprocessing, without a browser.
import { describe, expect, it } from 'vitest';
import { BOX, SIZE, describe as describeImage, toMnist } from '../src/digit.js';

/** A width x height drawing with ink in the given rectangles [x0, y0, x1, y1) (value 1). */
function drawing(width, height, rects) {
  const ink = new Float32Array(width * height);
  for (const [x0, y0, x1, y1] of rects) {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) ink[y * width + x] = 1;
  }
  return ink;
}

const sum = (a) => a.reduce((s, v) => s + v, 0);

describe('toMnist', () => {
  it('returns null for an empty drawing', () => {
    expect(toMnist(new Float32Array(280 * 280), 280, 280)).toBeNull();
  });

  it('scales the longer side to 20 pixels and keeps the aspect ratio', () => {
    // A tall bar 40 x 200 in a corner: 4 x 20 once scaled.
    const out = toMnist(drawing(280, 280, [[10, 30, 50, 230]]), 280, 280);
    const d = describeImage(out);
    expect(d.height).toBe(BOX);
    expect(d.width).toBeGreaterThanOrEqual(4);
    expect(d.width).toBeLessThanOrEqual(5);
    // Area averaging keeps the ink: 40 * 200 drawing pixels at scale 0.1 are 80 field pixels.
    expect(sum(out)).toBeCloseTo(80, 3);
    expect(Math.max(...out)).toBeLessThanOrEqual(1);
  });

  it('puts the centre of mass at the centre of the field, wherever the digit was drawn', () => {
    // An "L": its centre of mass is not the centre of its bounding box.
    const rects = [
      [200, 100, 220, 260],
      [200, 240, 270, 260],
    ];
    const out = toMnist(drawing(280, 280, rects), 280, 280);
    const d = describeImage(out);
    expect(d.cx).toBeCloseTo(SIZE / 2, 1);
    expect(d.cy).toBeCloseTo(SIZE / 2, 1);
    // 20 pixels tall, touching a 21st where the box does not fall on whole pixels.
    expect(d.height).toBeGreaterThanOrEqual(BOX);
    expect(d.height).toBeLessThanOrEqual(BOX + 1);
  });

  it('scales a wide drawing by its width', () => {
    const out = toMnist(drawing(300, 100, [[0, 40, 300, 60]]), 300, 100);
    const d = describeImage(out);
    expect(d.width).toBe(BOX);
    expect(d.height).toBeLessThanOrEqual(3);
  });

  it('gives grey levels at the edges, as MNIST does', () => {
    // 25 drawing pixels per field pixel (scale 1/5): a stroke edge off the grid is partly covered.
    const out = toMnist(drawing(100, 100, [[0, 0, 100, 3], [0, 0, 3, 100]]), 100, 100);
    const greys = out.filter((v) => v > 0.01 && v < 0.99).length;
    expect(greys).toBeGreaterThan(0);
  });
});
