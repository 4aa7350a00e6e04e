// Drives Debian's chromium (headless, via playwright-core) through the posenet_port page: open it with a model,
// optionally upload a photo or run the frames of a clip through the camera's path (track ids, smoothing), wait
// for the poses or the page's own error, take a screenshot.
//
// Usage: node browser_check.js REQUEST.json
//   {url, photo?, frames?: [{path, timestamp}], screenshot?, outFile, chromium: "/usr/bin/chromium", timeoutMs}
// Writes outFile = {modelReady, modelError, errorText, statusText, poses, backend, settings, clip?, tracking}
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

// The flags that work on a machine without network (see the design brief).
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'posenet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: request.chromium, headless: true, args: FLAGS, viewport: { width: 1100, height: 900 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    await page.goto(request.url);
    await page.waitForFunction(() => window.modelReady === true || !!window.modelError, null,
      { timeout: request.timeoutMs });
    if (request.photo && (await page.evaluate(() => window.modelReady))) {
      await page.setInputFiles('#photo', request.photo);
      await page.waitForFunction(() => window.lastPoses !== undefined, null, { timeout: request.timeoutMs });
    }
    let clip = null;
    if (request.frames && (await page.evaluate(() => window.modelReady))) {
      const frames = request.frames.map(({ path: file, timestamp }) => ({
        url: `data:image/png;base64,${fs.readFileSync(file).toString('base64')}`, timestamp }));
      clip = await page.evaluate((frames) => window.trackFrames(frames), frames);
    }
    const result = await page.evaluate(() => ({
      modelReady: window.modelReady === true,
      modelError: window.modelError || null,
      errorText: document.getElementById('error').textContent,
      statusText: document.getElementById('status').textContent,
      poses: window.lastPoses || null,
      backend: window.tf ? tf.getBackend() : null,
      settings: window.modelSettings || null,
      tracking: { trackOption: document.getElementById('track').checked, tracker: poseTracking.TRACKER_DEFAULTS,
        smoothing: poseTracking.SMOOTHING_DEFAULTS },
    }));
    result.clip = clip;
    if (request.screenshot) await page.screenshot({ path: request.screenshot, fullPage: true });
    fs.writeFileSync(request.outFile, JSON.stringify(result));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`ERROR: ${error && error.message ? error.message : String(error)}`);
  process.exit(1);
});
