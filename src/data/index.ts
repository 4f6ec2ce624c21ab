// mirage/data: data that needs no files — procedural street scenes with Cityscapes trainIds, the
// class names and palettes, and image layouts and colouring for canvases and PNGs alike.
export { type Sample, syntheticScene } from './synthetic.js';
export { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, type RGB, makePalette, paletteOf } from './classes.js';
export { blend, colourise, fromChwFloat, rgbToRgba, toChwFloat } from './image.js';
