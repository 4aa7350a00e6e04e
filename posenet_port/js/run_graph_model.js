// Runs a tfjs graph model in real TensorFlow.js (node) on raw float32 inputs: the parity oracle.
//
// Usage: node run_graph_model.js REQUEST.json
//   REQUEST = {model: "model.json", backend: "cpu" | "wasm", outDir: DIR, dynamicInput: bool,
//              inputs: [{path: "x.bin", shape: [1, H, W, 3]}, ...]}
// Writes DIR/result.json = {backend, outputs: [{<output name>: {path, shape}}, ...], milliseconds: [...], maxRssKb}
// with each output tensor as raw little-endian float32 beside it.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { fileIOHandler } = require('./fs_io_handler');

// This process's own peak resident memory (VmHWM); getrusage's maxRSS would include the parent's (fork).
function peakRssKb() {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return line ? parseInt(line.split(/\s+/)[1], 10) : 0;
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  if (request.backend === 'wasm') {
    require('@tensorflow/tfjs-backend-wasm');
  }
  if (!(await tf.setBackend(request.backend))) {
    throw new Error(`backend ${request.backend} did not initialise`);
  }
  await tf.ready();
  const model = await tf.loadGraphModel(fileIOHandler(request.model, { dynamicInput: request.dynamicInput }));
  const names = model.outputs.map((output) => output.name);
  const outputs = [];
  const milliseconds = [];
  for (const [index, input] of request.inputs.entries()) {
    const bytes = fs.readFileSync(input.path);
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const image = tf.tensor(values, input.shape, 'float32');
    const start = performance.now();
    let results = await model.executeAsync(image, names);
    milliseconds.push(performance.now() - start);
    results = Array.isArray(results) ? results : [results];
    const record = {};
    for (const [k, tensor] of results.entries()) {
      const data = await tensor.data();
      const file = path.join(request.outDir, `${index}_${k}.bin`);
      fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      record[names[k]] = { path: file, shape: tensor.shape };
    }
    tf.dispose([image, ...results]);
    outputs.push(record);
  }
  const result = { backend: tf.getBackend(), outputs, milliseconds, maxRssKb: peakRssKb() };
  fs.writeFileSync(path.join(request.outDir, 'result.json'), JSON.stringify(result));
}

main().catch((error) => {
  // One line the Python side looks for, then the stack for whoever reads the full output.
  console.error(`ERROR: ${error && error.message ? error.message : String(error)}`);
  console.error(error && error.stack ? error.stack : '');
  process.exit(1);
});
