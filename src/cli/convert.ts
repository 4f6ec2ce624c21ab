// mirage convert: PyTorch .pth/.pth.tar → safetensors, checked against the model's state dict.
import { existsSync } from 'node:fs';
import { writeSafetensors } from '../io/safetensors.js';
import { readPth } from '../io/pth.js';
import { ERFNet } from '../models/erfnet.js';
import { erfnetClasses } from './model-io.js';
import { startEngine } from './common.js';

export async function convert(a: { input: string; output: string; model: string }): Promise<void> {
  if (a.model !== 'erfnet') throw new Error(`--model ${a.model}: only 'erfnet' is available`);
  if (!existsSync(a.input)) throw new Error(`convert: ${a.input} does not exist`);
  const tensors = readPth(a.input);
  const numClasses = erfnetClasses(tensors, a.input);
  const { close } = await startEngine(0);
  try {
    const net = new ERFNet({ numClasses, encoderOutputConv: tensors.has('encoder.output_conv.weight') });
    const hasDecoder = tensors.has('decoder.output_conv.weight');
    try {
      if (hasDecoder) net.loadStateDict(tensors);
      else net.encoder.loadStateDict(new Map([...tensors].map(([k, v]) => [k.replace(/^encoder\./, ''), v])));
    } catch (e) {
      throw new Error(`${a.input} does not fit ERFNet (${numClasses} classes): ${(e as Error).message}`);
    } finally {
      net.dispose();
    }
    writeSafetensors(a.output, tensors, { model: hasDecoder ? 'erfnet' : 'erfnet-encoder', classes: String(numClasses),
      source: a.input });
    console.log(`${a.input} → ${a.output}: ${tensors.size} tensors, ERFNet${hasDecoder ? '' : ' encoder'} with ${numClasses} classes`);
  } finally {
    close();
  }
}
