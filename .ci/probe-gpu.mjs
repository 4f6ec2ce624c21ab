// Exit 0 if Dawn finds a WebGPU adapter (Vulkan on Linux), 1 otherwise. Used by setup.sh.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const gpu = create(process.platform === 'linux' ? ['backend=vulkan'] : []);
globalThis.__keep = gpu;
const adapter = await gpu.requestAdapter().catch(() => null);
if (!adapter) { console.log('probe: no WebGPU adapter'); process.exit(1); }
const device = await adapter.requestDevice().catch(() => null);
if (!device) { console.log('probe: adapter found but requestDevice failed'); process.exit(1); }
console.log(`probe: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.device} ${adapter.info.description}`.trim());
device.destroy();
process.exit(0);
