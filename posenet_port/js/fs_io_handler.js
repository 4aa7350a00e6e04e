// Pure @tensorflow/tfjs has no file-system loader (file:// fails in node): read model.json and its shards
// with fs and hand tfjs the ModelArtifacts directly.
'use strict';
const fs = require('fs');
const path = require('path');

// Declared input shapes like the shipped [1,385,385,3] only gate tfjs' shape check, not the computation:
// `dynamicInput` relaxes height and width to -1 so the same weights run at any size.
function relaxInputShapes(doc) {
  const relax = (dims) => dims.map((dim, axis) => (axis === 1 || axis === 2 ? { size: '-1' } : dim));
  for (const node of doc.modelTopology.node || []) {
    const shape = node.op === 'Placeholder' && node.attr && node.attr.shape && node.attr.shape.shape;
    if (shape && shape.dim) shape.dim = relax(shape.dim);
  }
  for (const input of Object.values((doc.signature && doc.signature.inputs) || {})) {
    if (input.tensorShape && input.tensorShape.dim) input.tensorShape.dim = relax(input.tensorShape.dim);
  }
}

// @tensorflow-models/posenet 2.2.2 reads the outputs by position: offsets, heatmap, displacement fwd, bwd.
// A model converted elsewhere lists them in any order; `posenetOutputOrder` sorts the signature by role.
const POSENET_ROLES = ['offset_2', 'heatmap_2', 'displacement_fwd_2', 'displacement_bwd_2'];

function orderOutputsForPosenet(doc) {
  const outputs = (doc.signature && doc.signature.outputs) || {};
  const role = (name) => POSENET_ROLES.findIndex((r) => name.split(/[/:]/).includes(r));
  const names = Object.keys(outputs);
  if (names.length !== 4 || names.some((name) => role(name) < 0)) {
    throw new Error(`model signature outputs ${JSON.stringify(names)} are not the four PoseNet heads`);
  }
  doc.signature.outputs = Object.fromEntries(names.sort((a, b) => role(a) - role(b)).map((n) => [n, outputs[n]]));
}

function fileIOHandler(modelJson, { dynamicInput = false, posenetOutputOrder = false } = {}) {
  return {
    load: async () => {
      const doc = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
      if (dynamicInput) relaxInputShapes(doc);
      if (posenetOutputOrder) orderOutputsForPosenet(doc);
      const dir = path.dirname(modelJson);
      const weightSpecs = [];
      const shards = [];
      for (const group of doc.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) {
          shards.push(fs.readFileSync(path.join(dir, shard)));
        }
      }
      const all = Buffer.concat(shards);
      return {
        modelTopology: doc.modelTopology,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: doc.format,
        generatedBy: doc.generatedBy,
        convertedBy: doc.convertedBy,
        signature: doc.signature,
        userDefinedMetadata: doc.userDefinedMetadata,
        modelInitializer: doc.modelInitializer,
      };
    },
  };
}

module.exports = { fileIOHandler };
