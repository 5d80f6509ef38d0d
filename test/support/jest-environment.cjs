// Jest runs each test file in its own vm context, whose typed-array constructors differ from the main
// realm's. onnxruntime-node's native binding builds output tensors with main-realm arrays, which then fail
// onnxruntime-common's `instanceof Float32Array` checks inside the test context. Sharing the host's typed
// array constructors with the test context makes the native runtime usable from tests.
//
// It also keeps the service logs out of the runner's report: the test file's logger (and the processes
// it starts) append to a log file of their own (LOG_FILE), and for each failing test the lines written
// while it ran are kept for test/support/failed-test-logs-reporter.cjs to print.
const fs = require('node:fs');
const { TestEnvironment } = require('jest-environment-node');
const { logFileFor, failuresFileFor } = require('./testLogs.cjs');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

/** The most log lines kept per failing test (the whole file stays on disk). */
const MAX_LINES = 200;

function fullName(test) {
  const names = [];
  for (let t = test; t && t.parent; t = t.parent) names.unshift(t.name);
  return names.join(' ');
}

class HostTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
    this.logFile = logFileFor(context.testPath);
    this.failuresFile = failuresFileFor(context.testPath);
    fs.mkdirSync(require('node:path').dirname(this.logFile), { recursive: true });
    fs.writeFileSync(this.logFile, '');
    fs.rmSync(this.failuresFile, { force: true });
    this.global.process.env.LOG_FILE = this.logFile;
    // Hermetic by default: no test downloads a model unless it asks to (test/model/hub.int.test.ts does).
    this.global.process.env.ALLOW_REMOTE_MODELS ??= 'false';
    this.offset = 0;
    this.failures = {};
  }

  handleTestEvent(event) {
    if (event.name !== 'test_done') return;
    const size = fs.statSync(this.logFile).size;
    if (event.test.errors.length > 0 && size > this.offset) {
      const fd = fs.openSync(this.logFile, 'r');
      const buf = Buffer.alloc(size - this.offset);
      fs.readSync(fd, buf, 0, buf.length, this.offset);
      fs.closeSync(fd);
      const lines = buf.toString('utf8').split('\n').filter(Boolean);
      this.failures[fullName(event.test)] = { lines: lines.slice(-MAX_LINES), dropped: Math.max(0, lines.length - MAX_LINES) };
    }
    this.offset = size;
  }

  async teardown() {
    if (Object.keys(this.failures).length) fs.writeFileSync(this.failuresFile, JSON.stringify({ logFile: this.logFile, tests: this.failures }));
    await super.teardown();
  }
}

module.exports = HostTypedArrayEnvironment;
