// The README's "ten lines" for embedding mirage in a browser app, type-checked by `npm test`
// (tsc -p web) through the package's own export names.
import { createBrowserEngine } from 'mirage/browser';
import { colourise, paletteOf, toChwFloat } from 'mirage/data';
import { loadModel, weightsFromBytes } from 'mirage/models';
import { segmentImage } from 'mirage/train';

export async function segmentCanvas(canvas: HTMLCanvasElement, url: string): Promise<Uint8Array> {
  await createBrowserEngine();                                   // navigator.gpu → device → engine
  const bytes = await (await fetch(url)).arrayBuffer();          // a .safetensors from `mirage train`
  const m = loadModel(url, undefined, undefined, weightsFromBytes(bytes, url));
  const img = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
  const seg = await segmentImage(m.system, toChwFloat(img), img.height, img.width, m.spec.multiple(m.options));
  return colourise(seg.classes, paletteOf(m.meta, m.numClasses).palette); // RGB bytes, one colour per class
}
