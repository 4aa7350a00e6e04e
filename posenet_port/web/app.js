// The page: load a tfjs graph model written by `rebuild` into @tensorflow-models/posenet 2.2.2, run it on a
// photo or the camera, draw the poses. Everything is served locally (no CDN): the page works offline.
'use strict';

const SKELETON = [
  ['leftHip', 'leftShoulder'], ['leftElbow', 'leftShoulder'], ['leftElbow', 'leftWrist'], ['leftHip', 'leftKnee'],
  ['leftKnee', 'leftAnkle'], ['rightHip', 'rightShoulder'], ['rightElbow', 'rightShoulder'],
  ['rightElbow', 'rightWrist'], ['rightHip', 'rightKnee'], ['rightKnee', 'rightAnkle'],
  ['leftShoulder', 'rightShoulder'], ['leftHip', 'rightHip'],
];
const COLORS = ['#ff8000', '#00c8ff', '#3cdc3c', '#ff00c8', '#005aff', '#c8c800', '#a050ff', '#00ffa0'];
const MIN_SCORE = 0.5;
const page = {
  model: document.getElementById('model'), photo: document.getElementById('photo'),
  camera: document.getElementById('camera'), status: document.getElementById('status'),
  error: document.getElementById('error'), canvas: document.getElementById('canvas'),
  poses: document.getElementById('poses'),
};
let net = null;
let video = null;
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

function draw(source, poses) {
  const context = page.canvas.getContext('2d');
  page.canvas.width = source.width || source.videoWidth;
  page.canvas.height = source.height || source.videoHeight;
  context.drawImage(source, 0, 0, page.canvas.width, page.canvas.height);
  const radius = Math.max(3, page.canvas.width / 160);
  poses.forEach((pose, index) => {
    context.strokeStyle = context.fillStyle = COLORS[index % COLORS.length];
    context.lineWidth = radius / 1.5;
    const byPart = Object.fromEntries(pose.keypoints.map((k) => [k.part, k]));
    for (const [a, b] of SKELETON) {
      if (byPart[a].score >= MIN_SCORE && byPart[b].score >= MIN_SCORE) {
        context.beginPath();
        context.moveTo(byPart[a].position.x, byPart[a].position.y);
        context.lineTo(byPart[b].position.x, byPart[b].position.y);
        context.stroke();
      }
    }
    for (const k of pose.keypoints.filter((k) => k.score >= MIN_SCORE)) {
      context.beginPath();
      context.arc(k.position.x, k.position.y, radius, 0, 2 * Math.PI);
      context.fill();
    }
  });
}

async function estimate(source) {
  if (!net) return;
  const start = performance.now();
  const poses = await net.estimateMultiplePoses(source, { flipHorizontal: false, maxDetections: 10,
    scoreThreshold: 0.5, nmsRadius: 20 });
  const milliseconds = performance.now() - start;
  draw(source, poses);
  window.lastPoses = poses;
  page.poses.textContent = JSON.stringify(poses);
  page.status.textContent = `${page.model.value}: ${poses.length} poses in ${milliseconds.toFixed(1)} ms ` +
    `(backend ${tf.getBackend()})`;
}

page.photo.addEventListener('change', () => {
  const file = page.photo.files[0];
  if (!file) return;
  const image = new Image();
  image.onload = () => estimate(image);
  image.src = URL.createObjectURL(file);
});

page.camera.addEventListener('click', async () => {
  try {
    video = video || document.createElement('video');
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    await video.play();
    const loop = async () => { await estimate(video); requestAnimationFrame(loop); };
    loop();
  } catch (error) {
    page.error.textContent = `Camera unavailable: ${error.message || error}`;
  }
});

page.model.addEventListener('change', () => loadModel(page.model.value));

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
