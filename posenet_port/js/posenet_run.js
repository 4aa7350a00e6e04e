// @tensorflow-models/posenet 2.2.2 itself, in node: its decoders on given tensors, or the whole
// estimateMultiplePoses / estimateSinglePose on given pixels. The reference our Python pipeline must match.
//
// Usage: node posenet_run.js REQUEST.json   (writes REQUEST.outFile)
//   {mode: "decode", outFile, jobs: [{scores, offsets, fwd, bwd: {path, shape}, outputStride, single,
//                                     maxDetections, scoreThreshold, nmsRadius, warmup, repeat}]}
//   (each job decoded `warmup` untimed times, then `repeat` timed times: milliseconds per call)
//   {mode: "estimate", outFile, backend, models: [model.json, ...], fixModel, outputStride, multiplier,
//    inputResolution, jobs: [{image: {path, shape: [H, W, 3]} (raw RGB uint8), single, maxDetections, ...}]}
//   fixModel relaxes a fixed input shape and sorts the outputs into posenet's order (for models exported
//   elsewhere, like the shipped one); our own exports must load as they are.
// Result: {poses: [[pose, ...] per job] (decode) or [[[pose, ...] per job] per model] (estimate),
//          milliseconds (per job, or per model and job), backend}
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const posenet = require('@tensorflow-models/posenet');
const { fileIOHandler } = require('./fs_io_handler');

function readFloat32(spec) {
  const bytes = fs.readFileSync(spec.path);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return tf.tensor(values, spec.shape, 'float32');
}

async function decode(job) {
  const [scores, offsets, fwd, bwd] = [job.scores, job.offsets, job.fwd, job.bwd].map(readFloat32);
  try {
    let run;
    if (job.single) {
      run = async () => [await posenet.decodeSinglePose(scores, offsets, job.outputStride)];
    } else {
      // As estimateMultiplePoses does: the tensors' buffers are read once, then decoded.
      const buffers = await Promise.all([scores, offsets, fwd, bwd].map((t) => t.buffer()));
      run = () => posenet.decodeMultiplePoses(
        ...buffers, job.outputStride, job.maxDetections, job.scoreThreshold, job.nmsRadius);
    }
    for (let i = 0; i < (job.warmup || 0); i++) {
      await run();
    }
    const milliseconds = [];
    let poses;
    for (let i = 0; i < (job.repeat || 1); i++) {
      const start = performance.now();
      poses = await run();
      milliseconds.push(performance.now() - start);
    }
    return { poses, milliseconds };
  } finally {
    tf.dispose([scores, offsets, fwd, bwd]);
  }
}

async function estimate(net, job) {
  const bytes = fs.readFileSync(job.image.path);
  const image = tf.tensor3d(new Uint8Array(bytes), job.image.shape, 'int32');
  try {
    if (job.single) {
      return [await net.estimateSinglePose(image, { flipHorizontal: false })];
    }
    return await net.estimateMultiplePoses(image, {
      flipHorizontal: false,
      maxDetections: job.maxDetections,
      scoreThreshold: job.scoreThreshold,
      nmsRadius: job.nmsRadius,
    });
  } finally {
    image.dispose();
  }
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const backend = request.backend || 'cpu';
  if (backend === 'wasm') {
    require('@tensorflow/tfjs-backend-wasm');
  }
  if (!(await tf.setBackend(backend))) {
    throw new Error(`backend ${backend} did not initialise`);
  }
  await tf.ready();
  const poses = [];
  const milliseconds = [];
  if (request.mode === 'decode') {
    for (const job of request.jobs) {
      const decoded = await decode(job);
      poses.push(decoded.poses);
      milliseconds.push(decoded.milliseconds);
    }
  } else if (request.mode === 'estimate') {
    // One process for several models: tfjs and the wasm backend start once.
    for (const model of request.models) {
      const net = await posenet.load({
        architecture: 'MobileNetV1',
        outputStride: request.outputStride,
        multiplier: request.multiplier,
        inputResolution: request.inputResolution,
        modelUrl: fileIOHandler(model, request.fixModel ? { dynamicInput: true, posenetOutputOrder: true } : {}),
      });
      const modelPoses = [];
      const modelMilliseconds = [];
      for (const job of request.jobs) {
        const start = performance.now();
        modelPoses.push(await estimate(net, job));
        modelMilliseconds.push(performance.now() - start);
      }
      net.dispose();
      poses.push(modelPoses);
      milliseconds.push(modelMilliseconds);
    }
  } else {
    throw new Error(`unknown mode ${request.mode}`);
  }
  fs.writeFileSync(request.outFile, JSON.stringify({ poses, milliseconds, backend: tf.getBackend() }));
}

main().catch((error) => {
  console.error(`ERROR: ${error && error.message ? error.message : String(error)}`);
  console.error(error && error.stack ? error.stack : '');
  process.exit(1);
});
