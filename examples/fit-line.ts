// Minimal embedding example (README): fit y = 3x − 1 with a Linear layer and Adam.
// In a browser, replace createNodeDevice() with your own GPUDevice: initEngine(device).
import { Adam, Linear, backward, initEngine, l1Loss, scope, tensor } from '../src/index.js';
import { createNodeDevice } from '../src/node/index.js';

const { device } = await createNodeDevice();
const engine = initEngine(device);                  // the engine takes any GPUDevice
const xs = Float32Array.from({ length: 64 }, (_, i) => i / 32 - 1);
const x = tensor(xs, [64, 1]);
const y = tensor(xs.map((v) => 3 * v - 1), [64, 1]);
const fc = new Linear(1, 1);
const opt = new Adam(fc.parameters(), { lr: 0.05 });
for (let step = 0; step < 300; step++) {
  scope(() => {                                      // frees every temporary of the step
    backward(l1Loss(fc.forward(x), y));
    opt.step();
    opt.zeroGrad();
  });
}
console.log('weight', (await fc.weight.read())[0].toFixed(3), 'bias', (await fc.bias!.read())[0].toFixed(3));
engine.destroy();
device.destroy();                                    // Dawn keeps Node alive until the device is gone
