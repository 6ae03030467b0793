// Turns a drawing into an MNIST-like 28x28 image. MNIST's digits were scaled, keeping their
// aspect ratio, to fit a 20x20 box (grey levels come from anti-aliasing) and then placed in the
// 28x28 field so that their centre of mass sits at its centre; a drawing gets the same
// treatment, otherwise a digit drawn small or off-centre looks nothing like the training data.

export const SIZE = 28;
export const BOX = 20;

/**
 * `ink`: one value per pixel of a `width` x `height` drawing, 0 (paper) to 1 (ink), row-major.
 * Returns 784 values in [0, 1] (row-major 28x28, ink = 1), or null when nothing is drawn.
 */
export function toMnist(ink, width, height) {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = ink[y * width + x];
      if (v <= 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  if (mass === 0) return null;
  const scale = BOX / Math.max(x1 + 1 - x0, y1 + 1 - y0);
  // Drawing coordinates -> field coordinates: u = (x - mx) * scale + 14, so the centre of
  // mass lands on the centre of the field.
  const cx = mx / mass, cy = my / mass;
  const integral = integralImage(ink, width, height);
  const out = new Float32Array(SIZE * SIZE);
  const area = 1 / (scale * scale);
  for (let v = 0; v < SIZE; v++) {
    const ya = cy + (v - SIZE / 2) / scale;
    const yb = ya + 1 / scale;
    for (let u = 0; u < SIZE; u++) {
      const xa = cx + (u - SIZE / 2) / scale;
      const xb = xa + 1 / scale;
      // The mean ink over the drawing region that this field pixel covers.
      const sum = boxSum(integral, width, height, xa, ya, xb, yb);
      out[v * SIZE + u] = Math.min(1, Math.max(0, sum / area));
    }
  }
  return out;
}

/** Summed-area table with one extra row and column of zeros: S[y][x] = sum over [0,x)x[0,y). */
function integralImage(ink, width, height) {
  const w = width + 1;
  const s = new Float64Array(w * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += ink[y * width + x];
      s[(y + 1) * w + x + 1] = s[y * w + x + 1] + row;
    }
  }
  return s;
}

/**
 * The integral of the ink over [xa,xb)x[ya,yb) in drawing coordinates, pixels being constant
 * squares: within a cell the summed-area function is bilinear, so interpolating the table is
 * exact. Outside the drawing there is no ink.
 */
function boxSum(s, width, height, xa, ya, xb, yb) {
  const at = (x, y) => {
    x = Math.min(Math.max(x, 0), width);
    y = Math.min(Math.max(y, 0), height);
    const xi = Math.min(Math.floor(x), width - 1), yi = Math.min(Math.floor(y), height - 1);
    const fx = x - xi, fy = y - yi;
    const w = width + 1;
    const a = s[yi * w + xi], b = s[yi * w + xi + 1], c = s[(yi + 1) * w + xi], d = s[(yi + 1) * w + xi + 1];
    return a * (1 - fx) * (1 - fy) + b * fx * (1 - fy) + c * (1 - fx) * fy + d * fx * fy;
  };
  return at(xb, yb) - at(xa, yb) - at(xb, ya) + at(xa, ya);
}

/** Centre of mass and ink bounding box of a 28x28 image, in pixel units (for tests and the page). */
export function describe(pixels) {
  let mass = 0, mx = 0, my = 0, x0 = SIZE, y0 = SIZE, x1 = -1, y1 = -1;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const v = pixels[y * SIZE + x];
      if (v <= 1e-6) continue;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  return { mass, cx: mx / mass, cy: my / mass, width: x1 + 1 - x0, height: y1 + 1 - y0 };
}
