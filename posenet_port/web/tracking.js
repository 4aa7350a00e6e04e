// Track ids and One Euro smoothing for the poses of successive frames: the page's copy of
// posenet_port/inference/tracking.py, step for step, so the page and the Python stream give the same ids and
// the same smoothed keypoints (tests/e2e/test_browser.py checks them on a clip in Chromium). Poses are posenet
// 2.2.2's: {score, keypoints: [{part, score, position: {x, y}}]}. Comments on why live in the Python module.
'use strict';

(function (root) {
  // COCO's per-keypoint falloff, in PoseNet's keypoint order (model/keypoints.py OKS_SIGMAS).
  const OKS_SIGMAS = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
    0.087, 0.087, 0.089, 0.089];
  const POSITION_GAIN = 0.3;
  const VELOCITY_GAIN = 0.15;
  const TRACKER_DEFAULTS = { method: 'keypoints', minSimilarity: 0.1, keypointScore: 0.3, minKeypoints: 4,
    maxAgeS: 1.0, maxTracks: 18 };
  const SMOOTHING_DEFAULTS = { enabled: true, minCutoff: 0.1, beta: 0.75, derivativeCutoff: 0.5 };

  function confidentPoints(pose, minScore) {
    return pose.keypoints.filter((k) => k.score >= minScore).map((k) => [k.position.x, k.position.y]);
  }

  function extent(points) {
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    return [Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)];
  }

  function keypointSimilarity(pose, track, options) {
    const points = confidentPoints(track, options.keypointScore);
    const area = points.length ? Math.max(...extent(points)) ** 2 + 1e-6 : 1e-6;
    let total = 0;
    let shared = 0;
    pose.keypoints.forEach((a, i) => {
      const b = track.keypoints[i];
      if (a.score < options.keypointScore || b.score < options.keypointScore) return;
      shared += 1;
      const d2 = (a.position.x - b.position.x) ** 2 + (a.position.y - b.position.y) ** 2;
      total += Math.exp(-d2 / (2 * area * (2 * OKS_SIGMAS[i]) ** 2));
    });
    return shared >= options.minKeypoints ? total / shared : 0;
  }

  function boxArea(points) {
    if (!points.length) return 0;
    const [w, h] = extent(points);
    return w * h;
  }

  function boxSimilarity(pose, track, options) {
    const a = confidentPoints(pose, options.keypointScore);
    const b = confidentPoints(track, options.keypointScore);
    if (!a.length || !b.length) return 0;
    let overlap = 1;
    for (const axis of [0, 1]) {
      const low = Math.max(Math.min(...a.map((p) => p[axis])), Math.min(...b.map((p) => p[axis])));
      const high = Math.min(Math.max(...a.map((p) => p[axis])), Math.max(...b.map((p) => p[axis])));
      overlap *= Math.max(high - low, 0);
    }
    const union = boxArea(a) + boxArea(b) - overlap;
    return union > 0 ? overlap / union : 0;
  }

  const SIMILARITIES = { keypoints: keypointSimilarity, boxes: boxSimilarity };

  // The track's keypoints moved on at their own speeds for `interval` seconds.
  function predictedPose(track, timestamp) {
    const interval = timestamp - track.lastSeen;
    return { score: track.pose.score, keypoints: track.pose.keypoints.map((k, i) => ({ part: k.part, score: k.score,
      position: { x: k.position.x + track.velocity[i][0] * interval, y: k.position.y + track.velocity[i][1] * interval } })) };
  }

  class PoseTracker {
    constructor(options = {}) {
      this.options = { ...TRACKER_DEFAULTS, ...options };
      this.tracks = [];
      this.nextId = 1;
    }

    update(poses, timestamp) {
      const similarity = SIMILARITIES[this.options.method];
      const score = this.options.keypointScore;
      this.dropStale(timestamp);
      const predicted = this.tracks.map((t) => predictedPose(t, timestamp));
      const pairs = [];
      poses.forEach((pose, p) => predicted.forEach((guess, t) => pairs.push([similarity(pose, guess, this.options), p, t])));
      // Python sorts the (similarity, pose, track) tuples in reverse: the same order, ties included.
      pairs.sort((a, b) => b[0] - a[0] || b[1] - a[1] || b[2] - a[2]);
      const ids = poses.map(() => null);
      const taken = new Set();
      for (const [similar, p, t] of pairs) {
        if (similar < this.options.minSimilarity) break;
        if (ids[p] === null && !taken.has(t)) {
          ids[p] = this.tracks[t].id;
          taken.add(t);
          this.follow(this.tracks[t], poses[p], timestamp, score);
        }
      }
      poses.forEach((pose, p) => {
        if (ids[p] === null) {
          ids[p] = this.nextId;
          this.tracks.push({ id: this.nextId, pose, lastSeen: timestamp, velocity: pose.keypoints.map(() => [0, 0]) });
          this.nextId += 1;
        }
      });
      this.dropStale(timestamp);
      return ids;
    }

    // An alpha-beta filter per keypoint, as follow() in tracking.py (which takes all of a frame's tracks at once;
    // the matches are decided before either updates a track, so one at a time gives the same).
    follow(track, pose, timestamp, minScore) {
      const interval = timestamp - track.lastSeen;
      if (interval <= 0) {
        track.pose = pose;
        track.lastSeen = timestamp;
        return;
      }
      const expected = predictedPose(track, timestamp).keypoints;
      const seen = pose.keypoints.map((k) => k.score >= minScore);
      const both = seen.map((s, i) => s && expected[i].score >= minScore);
      const fresh = seen.map((s, i) => s && expected[i].score < minScore);
      const keypoints = expected.map((k, i) => {
        if (!seen[i]) return k;
        const z = pose.keypoints[i];
        if (!both[i]) return { part: k.part, score: z.score, position: { x: z.position.x, y: z.position.y } };
        const surprise = [z.position.x - k.position.x, z.position.y - k.position.y];
        track.velocity[i] = track.velocity[i].map((v, axis) => v + (VELOCITY_GAIN / interval) * surprise[axis]);
        return { part: k.part, score: z.score, position: { x: k.position.x + POSITION_GAIN * surprise[0],
          y: k.position.y + POSITION_GAIN * surprise[1] } };
      });
      const count = both.filter(Boolean).length;
      if (count) {
        const sum = [0, 1].map((axis) => track.velocity.reduce((total, v, i) => (both[i] ? total + v[axis] : total), 0));
        fresh.forEach((f, i) => { if (f) track.velocity[i] = sum.map((total) => total / count); });
      }
      track.pose = { score: pose.score, keypoints };
      track.lastSeen = timestamp;
    }

    dropStale(timestamp) {
      this.tracks = this.tracks.filter((t) => timestamp - t.lastSeen < this.options.maxAgeS);
      this.tracks.sort((a, b) => b.lastSeen - a.lastSeen);  // stable, as Python's sorted
      this.tracks = this.tracks.slice(0, this.options.maxTracks);
    }
  }

  function alpha(cutoff, interval) {
    const tau = 1 / (2 * Math.PI * cutoff);
    return 1 / (1 + tau / interval);
  }

  class OneEuroFilter {
    constructor(options) {
      this.options = options;
      this.value = null;
      this.speed = null;
      this.time = 0;
    }

    filter(value, timestamp, scale) {
      if (this.value === null || timestamp <= this.time) {
        this.value = value.slice();
        this.speed = value.map(() => 0);
        this.time = timestamp;
        return value;
      }
      const interval = timestamp - this.time;
      const a = alpha(this.options.derivativeCutoff, interval);
      this.speed = this.speed.map((s, i) => s + a * ((value[i] - this.value[i]) / interval - s));
      this.value = this.value.map((v, i) => {
        const cutoff = this.options.minCutoff + this.options.beta * Math.abs(this.speed[i]) / scale[i];
        return v + alpha(cutoff, interval) * (value[i] - v);
      });
      this.time = timestamp;
      return this.value;
    }
  }

  function poseSize(pose, minScore = 0.3) {
    let points = confidentPoints(pose, minScore);
    if (points.length < 2) points = confidentPoints(pose, 0);
    const [w, h] = extent(points);
    return Math.max((w + h) / 2, 1);
  }

  class PoseSmoother {
    constructor(options = {}) {
      this.options = { ...SMOOTHING_DEFAULTS, ...options };
      this.filters = new Map();
    }

    smooth(trackId, pose, timestamp) {
      if (!this.options.enabled) return pose;
      const values = pose.keypoints.flatMap((k) => [k.position.x, k.position.y, k.score]);
      const size = poseSize(pose);
      const scale = pose.keypoints.flatMap(() => [size, size, 1]);
      if (!this.filters.has(trackId)) this.filters.set(trackId, new OneEuroFilter(this.options));
      const smoothed = this.filters.get(trackId).filter(values, timestamp, scale);
      return { score: pose.score, keypoints: pose.keypoints.map((k, i) => ({ part: k.part,
        score: smoothed[3 * i + 2], position: { x: smoothed[3 * i], y: smoothed[3 * i + 1] } })) };
    }

    keepOnly(trackIds) {
      for (const id of [...this.filters.keys()]) if (!trackIds.has(id)) this.filters.delete(id);
    }
  }

  class PoseStream {
    constructor(tracking = {}, smoothing = {}) {
      this.tracker = new PoseTracker(tracking);
      this.smoother = new PoseSmoother(smoothing);
    }

    // [{id, pose (smoothed), raw}] for the frame's poses at `timestamp` seconds, in the poses' order.
    update(poses, timestamp) {
      const ids = this.tracker.update(poses, timestamp);
      this.smoother.keepOnly(new Set(this.tracker.tracks.map((t) => t.id)));
      return poses.map((pose, i) => ({ id: ids[i], pose: this.smoother.smooth(ids[i], pose, timestamp), raw: pose }));
    }
  }

  const api = { PoseStream, PoseTracker, PoseSmoother, OneEuroFilter, TRACKER_DEFAULTS, SMOOTHING_DEFAULTS };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.poseTracking = api;
}(this));
