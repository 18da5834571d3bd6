/**
 * Viridis (perceptually uniform, readable in greyscale and by most colour-blind viewers), computed in code from a
 * degree-6 polynomial fit of the matplotlib table (max error < 0.5 % per channel), sampled into a 256-entry table.
 */
const C = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
] as const;

/** Viridis at t ∈ [0, 1] as 0–255 sRGB channels. */
export function viridis(t: number): [number, number, number] {
  const x = Number.isFinite(t) ? Math.min(Math.max(t, 0), 1) : 0;
  const rgb: [number, number, number] = [0, 0, 0];
  for (let ch = 0; ch < 3; ch++) {
    let v = 0;
    for (let k = C.length - 1; k >= 0; k--) v = v * x + C[k]![ch]!;
    rgb[ch] = Math.round(Math.min(Math.max(v, 0), 1) * 255);
  }
  return rgb;
}

/** 256 RGBA entries, packed for `ImageData`. */
export const VIRIDIS_LUT: Uint8ClampedArray = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = viridis(i / 255);
    lut[i * 4] = r;
    lut[i * 4 + 1] = g;
    lut[i * 4 + 2] = b;
    lut[i * 4 + 3] = 255;
  }
  return lut;
})();

/** `#rrggbb` of viridis at t. */
export function viridisHex(t: number): string {
  return `#${viridis(t)
    .map((c) => c.toString(16).padStart(2, '0'))
    .join('')}`;
}
