/* Multi-pose decoding in C: decode.py's Python decoder (posenet 2.2.2's decodeMultiplePoses) step for step,
 * about ten times faster. Same arithmetic: JavaScript reads the float32 tensors into doubles and computes in
 * double, and so does this code; built with -ffp-contract=off so no multiply-add is fused (JS never fuses).
 *
 * decode_multiple_poses(scores, offsets, fwd, bwd, chain, height, width, stride, max_detections,
 *                       score_threshold, squared_nms_radius) -> bytes
 *   scores [H, W, K], offsets [H, W, 2K], fwd / bwd [H, W, 2E]: C-contiguous float32 buffers;
 *   chain: int32 (parent, child) keypoint ids per edge, E = len / 2 and K = E + 1 (the pose tree).
 *   Returns float64 rows of 1 + 3K values per pose: pose score, K y, K x, K keypoint scores.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OFFSET_REFINE_STEPS 2
#define LOCAL_MAXIMUM_RADIUS 1

typedef struct {
    const float *scores, *offsets;
    const int *chain;
    long height, width, keypoints, edges;
    double stride;
} Tensors;

typedef struct {
    long y, x, k;
    double position_y, position_x, score;
} Root;

/* A score no neighbour within the radius beats (a NaN neighbour counts as beating it, as NumPy's maximum
 * propagates NaN in the Python decoder). */
static int is_local_maximum(const Tensors *t, long y, long x, long k, float score)
{
    for (long ny = y - LOCAL_MAXIMUM_RADIUS; ny <= y + LOCAL_MAXIMUM_RADIUS; ny++) {
        if (ny < 0 || ny >= t->height)
            continue;
        for (long nx = x - LOCAL_MAXIMUM_RADIUS; nx <= x + LOCAL_MAXIMUM_RADIUS; nx++) {
            if (nx < 0 || nx >= t->width)
                continue;
            if (!(score >= t->scores[(ny * t->width + nx) * t->keypoints + k]))
                return 0;
        }
    }
    return 1;
}

/* Root candidates in posenet's enqueue order (y, then x, then keypoint). */
static long find_roots(const Tensors *t, double threshold, Root *roots)
{
    long count = 0;
    for (long y = 0; y < t->height; y++)
        for (long x = 0; x < t->width; x++)
            for (long k = 0; k < t->keypoints; k++) {
                long cell = y * t->width + x;
                float score = t->scores[cell * t->keypoints + k];
                if (!(score >= threshold) || !is_local_maximum(t, y, x, k, score))
                    continue;
                Root *root = &roots[count++];
                root->y = y;
                root->x = x;
                root->k = k;
                root->score = score;
                root->position_y = y * t->stride + (double)t->offsets[cell * 2 * t->keypoints + k];
                root->position_x = x * t->stride + (double)t->offsets[cell * 2 * t->keypoints + t->keypoints + k];
            }
    return count;
}

/* posenet's MaxHeap, replayed exactly (decode.max_heap_order): push every root in order, then pop one by one. */
static void heap_push_all(const Root *roots, long count, long *heap)
{
    for (long index = 0; index < count; index++) {
        long k = index;
        heap[k] = index;
        while (k > 0 && roots[heap[k / 2]].score < roots[heap[k]].score) {
            long swap = heap[k / 2];
            heap[k / 2] = heap[k];
            heap[k] = swap;
            k /= 2;
        }
    }
}

static long heap_pop(const Root *roots, long *heap, long *size)
{
    long top = heap[0], last = *size - 1;
    heap[0] = heap[last];
    heap[last] = top;
    *size = last;
    long k = 0, n = last - 1;
    while (2 * k <= n) {
        long j = 2 * k;
        if (j < n && roots[heap[j]].score < roots[heap[j + 1]].score)
            j++;
        if (!(roots[heap[k]].score < roots[heap[j]].score))
            break;
        long swap = heap[k];
        heap[k] = heap[j];
        heap[j] = swap;
        k = j;
    }
    return top;
}

/* getStridedIndexNearPoint: Math.round(v / stride) (halves up), clamped to [0, last]. */
static long nearest_index(double value, double stride, long last)
{
    double scaled = value / stride, lower = floor(scaled);
    long index = (long)(scaled - lower >= 0.5 ? lower + 1 : lower);
    return index < 0 ? 0 : index > last ? last : index;
}

/* traverseToTargetKeypoint: displace from the source keypoint along `edge`, then snap and refine by offsets. */
static void traverse(const Tensors *t, const float *displacements, long edge, double source_y, double source_x,
                     long target, double *out_y, double *out_x, double *out_score)
{
    double y = source_y, x = source_x;
    long cell = 0;
    for (int step = 0; step < OFFSET_REFINE_STEPS + 2; step++) {
        long row = nearest_index(y, t->stride, t->height - 1), col = nearest_index(x, t->stride, t->width - 1);
        cell = row * t->width + col;
        if (step == 0) {
            long base = cell * 2 * t->edges;
            y = y + (double)displacements[base + edge];
            x = x + (double)displacements[base + t->edges + edge];
        } else if (step <= OFFSET_REFINE_STEPS) {
            long base = cell * 2 * t->keypoints;
            y = row * t->stride + (double)t->offsets[base + target];
            x = col * t->stride + (double)t->offsets[base + t->keypoints + target];
        }
    }
    *out_y = y;
    *out_x = x;
    *out_score = t->scores[cell * t->keypoints + target];
}

/* decodePose: from the root up the tree along backward displacements, then down along forward ones.
 * `pose` receives K y, K x, K scores. */
static void trace(const Tensors *t, const float *fwd, const float *bwd, const Root *root, double *pose, char *known)
{
    long K = t->keypoints;
    double *ys = pose, *xs = pose + K, *scores = pose + 2 * K;
    memset(known, 0, (size_t)K);
    for (long k = 0; k < K; k++)
        ys[k] = xs[k] = scores[k] = 0.0;
    ys[root->k] = root->position_y;
    xs[root->k] = root->position_x;
    scores[root->k] = root->score;
    known[root->k] = 1;
    for (long edge = t->edges - 1; edge >= 0; edge--) {
        long parent = t->chain[2 * edge], child = t->chain[2 * edge + 1];
        if (known[child] && !known[parent]) {
            traverse(t, bwd, edge, ys[child], xs[child], parent, &ys[parent], &xs[parent], &scores[parent]);
            known[parent] = 1;
        }
    }
    for (long edge = 0; edge < t->edges; edge++) {
        long parent = t->chain[2 * edge], child = t->chain[2 * edge + 1];
        if (known[parent] && !known[child]) {
            traverse(t, fwd, edge, ys[parent], xs[parent], child, &ys[child], &xs[child], &scores[child]);
            known[child] = 1;
        }
    }
}

/* The greedy loop: returns the number of poses written to `poses` (rows of 1 + 3K doubles). */
static long decode(const Tensors *t, const float *fwd, const float *bwd, long max_detections, double threshold,
                   double squared_radius, Root *roots, long *heap, char *suppressed, char *known, double *poses)
{
    long K = t->keypoints, row_size = 1 + 3 * K, found = 0;
    long count = find_roots(t, threshold, roots), size = count;
    memset(suppressed, 0, (size_t)count);
    heap_push_all(roots, count, heap);
    while (size > 0 && found < max_detections) {
        long candidate = heap_pop(roots, heap, &size);
        if (suppressed[candidate])
            continue;
        double *pose = poses + found * row_size, *ys = pose + 1, *xs = pose + 1 + K, *scores = pose + 1 + 2 * K;
        trace(t, fwd, bwd, &roots[candidate], pose + 1, known);
        /* Pose score: keypoints not within the radius of the same keypoint of an earlier pose, over K. */
        double total = 0.0;
        for (long k = 0; k < K; k++) {
            int overlapped = 0;
            for (long p = 0; p < found && !overlapped; p++) {
                const double *earlier = poses + p * row_size + 1;
                double dy = earlier[k] - ys[k], dx = earlier[K + k] - xs[k];
                overlapped = dy * dy + dx * dx <= squared_radius;
            }
            if (!overlapped)
                total += scores[k];
        }
        pose[0] = total / (double)K;
        found++;
        /* Part-based NMS: later roots near this pose's keypoint of the same part are never decoded. */
        for (long j = 0; j < count; j++) {
            double dy = ys[roots[j].k] - roots[j].position_y, dx = xs[roots[j].k] - roots[j].position_x;
            if (dy * dy + dx * dx <= squared_radius)
                suppressed[j] = 1;
        }
    }
    return found;
}

static int check_size(const Py_buffer *buffer, Py_ssize_t expected, const char *name)
{
    if (buffer->len != expected) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", name, buffer->len, expected);
        return 0;
    }
    return 1;
}

static PyObject *decode_multiple_poses(PyObject *self, PyObject *args)
{
    Py_buffer scores, offsets, fwd, bwd, chain;
    long height, width, max_detections;
    double stride, threshold, squared_radius;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*lldldd", &scores, &offsets, &fwd, &bwd, &chain, &height, &width,
                          &stride, &max_detections, &threshold, &squared_radius))
        return NULL;
    PyObject *result = NULL;
    long edges = (long)(chain.len / (2 * (Py_ssize_t)sizeof(int))), keypoints = edges + 1;
    Py_ssize_t cells = (Py_ssize_t)height * width, f32 = (Py_ssize_t)sizeof(float);
    if (height < 1 || width < 1 || stride <= 0 || max_detections < 1 || edges < 1
        || !check_size(&chain, 2 * edges * (Py_ssize_t)sizeof(int), "chain")
        || !check_size(&scores, cells * keypoints * f32, "scores")
        || !check_size(&offsets, cells * 2 * keypoints * f32, "offsets")
        || !check_size(&fwd, cells * 2 * edges * f32, "forward displacements")
        || !check_size(&bwd, cells * 2 * edges * f32, "backward displacements")) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "decode_multiple_poses: invalid sizes");
        goto done;
    }
    Tensors t = {scores.buf, offsets.buf, chain.buf, height, width, keypoints, edges, stride};
    long most_roots = (long)(cells * keypoints), row_size = 1 + 3 * keypoints;
    long most_poses = max_detections < most_roots ? max_detections : most_roots;
    Root *roots = malloc(sizeof(Root) * (size_t)most_roots);
    long *heap = malloc(sizeof(long) * (size_t)most_roots);
    char *suppressed = malloc((size_t)most_roots), *known = malloc((size_t)keypoints);
    double *poses = malloc(sizeof(double) * (size_t)(most_poses * row_size));
    if (roots && heap && suppressed && known && poses) {
        long found;
        Py_BEGIN_ALLOW_THREADS
        found = decode(&t, fwd.buf, bwd.buf, most_poses, threshold, squared_radius, roots, heap, suppressed, known,
                       poses);
        Py_END_ALLOW_THREADS
        result = PyBytes_FromStringAndSize((const char *)poses, (Py_ssize_t)(found * row_size * sizeof(double)));
    } else {
        PyErr_NoMemory();
    }
    free(roots);
    free(heap);
    free(suppressed);
    free(known);
    free(poses);
done:
    PyBuffer_Release(&scores);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&fwd);
    PyBuffer_Release(&bwd);
    PyBuffer_Release(&chain);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_multiple_poses", decode_multiple_poses, METH_VARARGS,
     "posenet 2.2.2's multi-pose decoding on float32 buffers; float64 rows of pose score, ys, xs, scores."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_decoder", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__decoder(void)
{
    return PyModule_Create(&module);
}
