// The page: load a tfjs graph model written by `rebuild` into @tensorflow-models/posenet 2.2.2, run it on a
// photo or the camera, draw the poses. Everything is served locally (no CDN): the page works offline.
'use strict';

const SKELETON = [
  ['leftHip', 'leftShoulder'], ['leftElbow', 'leftShoulder'], ['leftElbow', 'leftWrist'], ['leftHip', 'leftKnee'],
  ['leftKnee', 'leftAnkle'], ['rightHip', 'rightShoulder'], ['rightElbow', 'rightShoulder'],
  ['rightElbow', 'rightWrist'], ['rightHip', 'rightKnee'], ['rightKnee', 'rightAnkle'],
  ['leftShoulder', 'rightShoulder'], ['leftHip', 'rightHip'],
];
// The demo's colours (inference/draw.py POSE_COLORS, there in BGR), one per track id or per pose.
const COLORS = ['#0080ff', '#ffc800', '#3cdc3c', '#c800ff', '#ff5a00', '#00c8c8', '#ff50a0', '#a0ff00', '#ffffff',
  '#ffa050'];
const MIN_SCORE = 0.5;
const POSE_SIZE_PER_UNIT = 100;  // as inference/draw.py: px of pose size per unit of line width
// posenet's multi-pose settings, the same as the Python tools' defaults (DecodeOptions).
const DECODE = { flipHorizontal: false, maxDetections: 10, scoreThreshold: 0.5, nmsRadius: 20 };
const page = {
  model: document.getElementById('model'), photo: document.getElementById('photo'),
  camera: document.getElementById('camera'), track: document.getElementById('track'),
  status: document.getElementById('status'), error: document.getElementById('error'),
  canvas: document.getElementById('canvas'), poses: document.getElementById('poses'),
};
let net = null;
let video = null;
let stream = new poseTracking.PoseStream();  // track ids and smoothing across the camera's frames
let specs = {};  // model name -> posenet.load settings from the build's manifest (served as /models/index.json)

function showError(message) {
  page.error.textContent = message;
  page.status.textContent = 'Model not loaded';
  window.modelError = message;
}

// posenet 2.2.2 reads the outputs by position; a model with other outputs would decode garbage silently.
const POSENET_OUTPUTS = ['offset_2', 'heatmap_2', 'displacement_fwd_2', 'displacement_bwd_2'];

function checkPosenetOutputs(model) {
  const names = model.outputs.map((output) => output.name.split(':')[0]);
  const ordered = names.length === 4 && names.every((name, i) => name.split('/').includes(POSENET_OUTPUTS[i]));
  if (!ordered) {
    throw new Error(`not a PoseNet model for posenet 2.2.2: outputs ${JSON.stringify(names)}, ` +
      `expected ${POSENET_OUTPUTS.join(', ')} in that order`);
  }
}

async function loadModel(name) {
  page.error.textContent = '';
  window.modelError = null;
  window.modelReady = false;
  page.status.textContent = `Loading ${name} ...`;
  try {
    if (net) net.dispose();
    net = null;
    // The stride decides how the heads are decoded: never guessed, only read from what `rebuild` recorded.
    if (!specs[name]) {
      throw new Error(name in specs ? 'no model spec in the build\'s manifest.json (not written by rebuild?)'
        : 'not in this build folder');
    }
    net = await posenet.load({ ...specs[name], modelUrl: `/models/${encodeURIComponent(name)}/model.json` });
    checkPosenetOutputs(net.baseModel.model);
    window.modelSettings = specs[name];
    window.modelReady = true;
    const { multiplier, outputStride, inputResolution } = specs[name];
    page.status.textContent = `${name} loaded (multiplier ${multiplier}, stride ${outputStride}, input ` +
      `${inputResolution}); backend ${tf.getBackend()}. Pick a photo or start the camera.`;
  } catch (error) {
    showError(`Could not load model ${name}: ${error.message || error}`);
  }
}

function poseSize(pose) {
  const shown = pose.keypoints.filter((k) => k.score >= MIN_SCORE);
  const points = shown.length >= 2 ? shown : pose.keypoints;
  const xs = points.map((k) => k.position.x);
  const ys = points.map((k) => k.position.y);
  return Math.max((Math.max(...xs) - Math.min(...xs) + Math.max(...ys) - Math.min(...ys)) / 2, 1);
}

// Lines and discs scale with the pose (capped by the frame), as the demo draws them; tracked poses are coloured
// and labelled by their track id.
function draw(source, poses, ids) {
  const context = page.canvas.getContext('2d');
  page.canvas.width = source.width || source.videoWidth;
  page.canvas.height = source.height || source.videoHeight;
  context.drawImage(source, 0, 0, page.canvas.width, page.canvas.height);
  const frameScale = Math.max(page.canvas.width, page.canvas.height) / 640;
  poses.forEach((pose, index) => {
    const key = ids ? ids[index] : index;
    const scale = Math.min(poseSize(pose) / POSE_SIZE_PER_UNIT, frameScale);
    const radius = Math.max(2, Math.round(4 * scale));
    context.strokeStyle = context.fillStyle = COLORS[key % COLORS.length];
    context.lineWidth = Math.max(1, Math.round(2 * scale));
    const byPart = Object.fromEntries(pose.keypoints.map((k) => [k.part, k]));
    for (const [a, b] of SKELETON) {
      if (byPart[a].score >= MIN_SCORE && byPart[b].score >= MIN_SCORE) {
        context.beginPath();
        context.moveTo(byPart[a].position.x, byPart[a].position.y);
        context.lineTo(byPart[b].position.x, byPart[b].position.y);
        context.stroke();
      }
    }
    const shown = pose.keypoints.filter((k) => k.score >= MIN_SCORE);
    for (const k of shown) {
      context.beginPath();
      context.arc(k.position.x, k.position.y, radius, 0, 2 * Math.PI);
      context.fill();
    }
    if (ids && shown.length) {
      context.font = `${Math.max(12, Math.round(14 * scale))}px sans-serif`;
      context.fillText(String(ids[index]), Math.min(...shown.map((k) => k.position.x)),
        Math.max(Math.min(...shown.map((k) => k.position.y)) - 2 * radius, 12));
    }
  });
}

// One frame: posenet's poses, then (for frames of a video with their `timestamp` in seconds, and tracking on)
// track ids and smoothed keypoints. A photo alone is never tracked.
async function estimate(source, timestamp = null) {
  if (!net) return;
  const start = performance.now();
  const poses = await net.estimateMultiplePoses(source, DECODE);
  const tracked = timestamp !== null && page.track.checked ? stream.update(poses, timestamp) : null;
  const milliseconds = performance.now() - start;
  draw(source, tracked ? tracked.map((t) => t.pose) : poses, tracked ? tracked.map((t) => t.id) : null);
  window.lastPoses = poses;
  window.lastTracked = tracked;
  page.poses.textContent = JSON.stringify(tracked || poses);
  page.status.textContent = `${page.model.value}: ${poses.length} poses in ${milliseconds.toFixed(1)} ms ` +
    `(backend ${tf.getBackend()})${tracked ? ', tracked and smoothed' : ''}`;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`cannot decode ${url.slice(0, 40)}`));
    image.src = url;
  });
}

// Frames of a clip (image URLs with their timestamps in seconds) through the camera's path, from a fresh stream:
// what the Chromium test compares with the Python stream. Returns each frame's poses and tracked poses.
window.trackFrames = async (frames) => {
  stream = new poseTracking.PoseStream();
  const results = [];
  for (const { url, timestamp } of frames) {
    await estimate(await loadImage(url), timestamp);
    results.push({ poses: window.lastPoses, tracked: window.lastTracked });
  }
  return results;
};

page.photo.addEventListener('change', () => {
  const file = page.photo.files[0];
  if (!file) return;
  loadImage(URL.createObjectURL(file)).then((image) => estimate(image));
});

page.camera.addEventListener('click', async () => {
  try {
    video = video || document.createElement('video');
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    await video.play();
    stream = new poseTracking.PoseStream();
    const loop = async () => { await estimate(video, performance.now() / 1000); requestAnimationFrame(loop); };
    loop();
  } catch (error) {
    page.error.textContent = `Camera unavailable: ${error.message || error}`;
  }
});

page.model.addEventListener('change', () => loadModel(page.model.value));
page.track.addEventListener('change', () => { stream = new poseTracking.PoseStream(); });

async function main() {
  tf.wasm.setWasmPaths('/vendor/');
  await tf.setBackend('wasm');
  await tf.ready();
  const index = await (await fetch('/models/index.json')).json();
  specs = Object.fromEntries(index.map((entry) => [entry.name, entry.spec]));
  const models = index.map((entry) => entry.name);
  if (!models.length) {
    showError('No tfjs models in the build folder: run `make rebuild` first.');
    return;
  }
  for (const name of models) page.model.add(new Option(name, name));
  const wanted = new URLSearchParams(location.search).get('model');
  page.model.value = models.includes(wanted) ? wanted : (models.find((m) => m.endsWith('float16-gptq')) || models.find((m) => m.endsWith('float16')) || models[0]);
  await loadModel(wanted && !models.includes(wanted) ? wanted : page.model.value);
}

main().catch((error) => showError(`Start-up failed: ${error.message || error}`));
