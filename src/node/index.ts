export { createNodeDevice, createNodeEngine, type NodeDevice, type NodeDeviceOptions } from './device.js';
