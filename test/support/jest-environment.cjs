// Jest runs each test file in its own vm context, whose typed-array constructors differ from the main
// realm's. onnxruntime-node's native binding builds output tensors with main-realm arrays, which then fail
// onnxruntime-common's `instanceof Float32Array` checks inside the test context. Sharing the host's typed
// array constructors with the test context makes the native runtime usable from tests.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class HostTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = HostTypedArrayEnvironment;
