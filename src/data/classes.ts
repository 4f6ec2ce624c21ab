// Cityscapes trainId classes, palette (seed-specs §2.7) and labelId → trainId (§2.4).
export type RGB = [number, number, number];

export const CITYSCAPES_CLASSES = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
  'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle', 'void'];

export const CITYSCAPES_PALETTE: RGB[] = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
  [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60], [255, 0, 0],
  [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32], [0, 0, 0]];

/** labelId → trainId; every id not listed maps to 255 (ignore). */
export const LABEL_TO_TRAIN: Record<number, number> = { 7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
  23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18 };

/** ERFNet's hard-coded ENet-style weights (train/main.py; seed-specs §2.6), class 19 = 0. */
export const ERFNET_WEIGHTS = {
  encoder: [2.3653597831726, 4.4237880706787, 2.9691488742828, 5.3442072868347, 5.2983593940735, 5.2275490760803,
    5.4394111633301, 5.3659925460815, 3.4170460700989, 5.2414722442627, 4.7376127243042, 5.2286224365234, 5.455126285553,
    4.3019247055054, 5.4264230728149, 5.4331531524658, 5.433765411377, 5.4631009101868, 5.3947434425354, 0],
  decoder: [2.8149201869965, 6.9850029945374, 3.7890393733978, 9.9428062438965, 9.7702074050903, 9.5110931396484,
    10.311357498169, 10.026463508606, 4.6323022842407, 9.5608062744141, 7.8698215484619, 9.5168733596802, 10.373730659485,
    6.6616044044495, 10.260489463806, 10.287888526917, 10.289801597595, 10.405355453491, 10.138095855713, 0],
};

/** A readable palette for data sets without one (golden-angle hues); the ignore class is black. */
export function makePalette(n: number, ignore: number): RGB[] {
  return Array.from({ length: n }, (_, i) => {
    if (i === ignore) return [0, 0, 0];
    const h = (i * 137.508) % 360, s = 0.65, v = 0.9, c = v * s, x = c * (1 - Math.abs(((h / 60) % 2) - 1)), m = v - c;
    const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
    return [Math.round(255 * (r + m)), Math.round(255 * (g + m)), Math.round(255 * (b + m))];
  });
}

/**
 * The palette of a checkpoint's classes: the one it records (its training data's), Cityscapes' for
 * 20 classes, else a generated one (`generated` true) with the last class black.
 */
export function paletteOf(meta: Record<string, string>, numClasses: number): { palette: RGB[]; generated: boolean } {
  if (meta.palette) {
    const p = JSON.parse(meta.palette) as RGB[];
    if (Array.isArray(p) && p.length === numClasses) return { palette: p, generated: false };
  }
  if (numClasses === 20) return { palette: CITYSCAPES_PALETTE, generated: false };
  return { palette: makePalette(numClasses, numClasses - 1), generated: true };
}
