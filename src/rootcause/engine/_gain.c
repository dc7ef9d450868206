/* Information gain per cost of every unasked finding, and the top k, one pass per case.
 *
 * The NumPy formulation (next_steps.py docstring) made some fifteen passes over (n, 4, F)
 * float32 arrays and five argmax passes; here each case's row is finished while it is in
 * the L1 cache, and the loops over findings are written so that the compiler vectorises
 * them, logarithm included (a branch-free Cephes logf, within 2 ulp of the C library's).
 *
 * After the batch size n and the number of findings F, the inputs come as C-contiguous buffers
 * (next_steps.py passes NumPy arrays of the right dtype; each buffer's size is checked):
 *   weighted (n, 6F) float32  z, Σπ H_b(p) and y per urgency level, from one matrix product
 *   mass     (n, 4)  float32  posterior mass per urgency level
 *   floor    (n,)    int64    urgency level set by the red-flag rules alone
 *   known    (n, F)  bool     finding already known: its value is -inf
 *   bonus    (F,)    int64    red-flag level of a finding (-1 for the rest)
 *   cost     (F,)    float32  cost weight of asking
 * The GIL is released while the rows are computed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_LEVELS 4
#define TINY 1e-30f

/* log(x) for positive normal x, branch-free so that loops calling it vectorise (Cephes logf). */
static inline float log_positive(float x)
{
    union { float f; int32_t i; } u = { x };
    float e = (float)(((u.i >> 23) & 0xff) - 126);
    u.i = (u.i & 0x007fffff) | 0x3f000000; /* mantissa in [0.5, 1) */
    float m = u.f;
    int small = m < 0.707106781186547524f;
    e = small ? e - 1.0f : e;
    m = small ? m + m - 1.0f : m - 1.0f;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * e;
    y += -0.5f * z;
    return m + y + 0.693359375f * e;
}

/* x log x with 0 log 0 = 0 (x is floored at TINY inside the logarithm only). */
static inline float xlogx(float x)
{
    return x * log_positive(x > TINY ? x : TINY);
}

/* One case's gain per cost over all F findings, into out; scratch holds F floats.
 * Built for AVX-512, AVX2 and the baseline, picked at load for the CPU (AVX-512 took 7% off
 * a batch's scoring on this machine's EPYC). Each build does the same IEEE operations per
 * element: -std=c11 keeps GCC from contracting them into FMAs, so all three agree exactly. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static void row_per_cost(const float *restrict weighted, const float *restrict mass_in, int64_t floor_level,
                         const uint8_t *restrict known, const int64_t *restrict bonus,
                         const float *restrict cost, Py_ssize_t n_f, float *restrict out,
                         float *restrict scratch)
{
    const float *z_raw = weighted, *spread = weighted + n_f, *y = weighted + 2 * n_f;
    int lo = floor_level < 0 ? 0 : (floor_level >= N_LEVELS ? N_LEVELS - 1 : (int)floor_level);
    /* levels up to the red-flag floor count as one group, carried by the floor level */
    float mass[N_LEVELS] = { 0 };
    for (int l = 0; l < N_LEVELS; l++)
        mass[l < lo ? lo : l] += mass_in[l];
    float mass_term = 0.0f;
    for (int l = lo; l < N_LEVELS; l++)
        mass_term += xlogx(mass[l]);
    for (Py_ssize_t f = 0; f < n_f; f++) {
        float z = z_raw[f] < 0.0f ? 0.0f : (z_raw[f] > 1.0f ? 1.0f : z_raw[f]);
        float g = -(spread[f] + 2.0f * (xlogx(z) + xlogx(1.0f - z))) - mass_term;
        out[f] = g + (bonus[f] > floor_level ? z : 0.0f);
    }
    for (int l = lo; l < N_LEVELS; l++) {
        const float *y_l = y + l * n_f;
        if (l == lo && lo > 0) { /* the floor level holds the y of every level up to it */
            memcpy(scratch, y, (size_t)n_f * sizeof(float));
            for (int below = 1; below <= lo; below++)
                for (Py_ssize_t f = 0; f < n_f; f++)
                    scratch[f] += y[below * n_f + f];
            y_l = scratch;
        }
        for (Py_ssize_t f = 0; f < n_f; f++) {
            float rest = mass[l] - y_l[f];
            out[f] += xlogx(y_l[f]) + xlogx(rest > 0.0f ? rest : 0.0f);
        }
    }
    for (Py_ssize_t f = 0; f < n_f; f++)
        out[f] /= cost[f];
    for (Py_ssize_t f = 0; f < n_f; f++)
        out[f] = known[f] ? -INFINITY : out[f];
}

/* The k largest values of row, best first; ties keep the lower index first (a stable sort). */
static void top_k(const float *restrict row, Py_ssize_t n_f, Py_ssize_t k, int64_t *restrict steps,
                  float *restrict values)
{
    Py_ssize_t filled = 0;
    for (Py_ssize_t f = 0; f < n_f; f++) {
        float v = row[f];
        if (filled == k && !(v > values[k - 1]))
            continue;
        Py_ssize_t pos = filled < k ? filled++ : k - 1;
        while (pos > 0 && v > values[pos - 1]) {
            values[pos] = values[pos - 1];
            steps[pos] = steps[pos - 1];
            pos--;
        }
        values[pos] = v;
        steps[pos] = f;
    }
}

typedef struct {
    Py_buffer weighted, mass, floor, known, bonus, cost;
    Py_ssize_t n, n_f;
} Inputs;

static void release_inputs(Inputs *in)
{
    Py_buffer *all[] = { &in->weighted, &in->mass, &in->floor, &in->known, &in->bonus, &in->cost };
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++)
        if (all[j]->obj != NULL)
            PyBuffer_Release(all[j]);
}

static int expect_size(const char *name, const Py_buffer *buf, Py_ssize_t expected)
{
    if (buf->len != expected) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, expected, buf->len);
        return 0;
    }
    return 1;
}

static int check_inputs(Inputs *in)
{
    Py_ssize_t n = in->n, f = in->n_f;
    if (n < 0 || f < 1) {
        PyErr_Format(PyExc_ValueError, "n, n_findings: expected n >= 0 and n_findings >= 1, got %zd, %zd", n, f);
        return 0;
    }
    return expect_size("floor", &in->floor, n * (Py_ssize_t)sizeof(int64_t))
        && expect_size("cost", &in->cost, f * (Py_ssize_t)sizeof(float))
        && expect_size("weighted", &in->weighted, n * (2 + N_LEVELS) * f * (Py_ssize_t)sizeof(float))
        && expect_size("mass", &in->mass, n * N_LEVELS * (Py_ssize_t)sizeof(float))
        && expect_size("known", &in->known, n * f)
        && expect_size("bonus", &in->bonus, f * (Py_ssize_t)sizeof(int64_t));
}

#define ROW_ARGS(in, i)                                                                              \
    (const float *)(in).weighted.buf + (i) * (2 + N_LEVELS) * (in).n_f,                               \
        (const float *)(in).mass.buf + (i) * N_LEVELS, ((const int64_t *)(in).floor.buf)[i],           \
        (const uint8_t *)(in).known.buf + (i) * (in).n_f, (const int64_t *)(in).bonus.buf,           \
        (const float *)(in).cost.buf, (in).n_f

static PyObject *per_cost(PyObject *self, PyObject *args)
{
    Inputs in = { 0 };
    Py_buffer out = { 0 };
    float *scratch = NULL;
    if (!PyArg_ParseTuple(args, "nny*y*y*y*y*y*w*:per_cost", &in.n, &in.n_f, &in.weighted, &in.mass, &in.floor, &in.known,
                          &in.bonus, &in.cost, &out))
        goto fail;
    if (!check_inputs(&in) || !expect_size("out", &out, in.n * in.n_f * (Py_ssize_t)sizeof(float)))
        goto fail;
    scratch = malloc((size_t)in.n_f * sizeof(float));
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < in.n; i++)
        row_per_cost(ROW_ARGS(in, i), (float *)out.buf + i * in.n_f, scratch);
    Py_END_ALLOW_THREADS
    free(scratch);
    release_inputs(&in);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
fail:
    free(scratch);
    release_inputs(&in);
    if (out.obj != NULL)
        PyBuffer_Release(&out);
    return NULL;
}

static PyObject *top_steps(PyObject *self, PyObject *args)
{
    Inputs in = { 0 };
    Py_buffer steps = { 0 }, values = { 0 };
    Py_ssize_t k;
    float *row = NULL;
    if (!PyArg_ParseTuple(args, "nny*y*y*y*y*y*nw*w*:top_steps", &in.n, &in.n_f, &in.weighted, &in.mass, &in.floor, &in.known,
                          &in.bonus, &in.cost, &k, &steps, &values))
        goto fail;
    if (!check_inputs(&in))
        goto fail;
    if (k < 1 || k > in.n_f) {
        PyErr_Format(PyExc_ValueError, "k: expected 1 to %zd, got %zd", in.n_f, k);
        goto fail;
    }
    if (!expect_size("steps", &steps, in.n * k * (Py_ssize_t)sizeof(int64_t))
        || !expect_size("values", &values, in.n * k * (Py_ssize_t)sizeof(float)))
        goto fail;
    row = malloc(2 * (size_t)in.n_f * sizeof(float)); /* the row, then the scratch */
    if (row == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < in.n; i++) {
        row_per_cost(ROW_ARGS(in, i), row, row + in.n_f);
        top_k(row, in.n_f, k, (int64_t *)steps.buf + i * k, (float *)values.buf + i * k);
    }
    Py_END_ALLOW_THREADS
    free(row);
    release_inputs(&in);
    PyBuffer_Release(&steps);
    PyBuffer_Release(&values);
    Py_RETURN_NONE;
fail:
    free(row);
    release_inputs(&in);
    if (steps.obj != NULL)
        PyBuffer_Release(&steps);
    if (values.obj != NULL)
        PyBuffer_Release(&values);
    return NULL;
}

static PyMethodDef methods[] = {
    { "per_cost", per_cost, METH_VARARGS,
      "per_cost(n, n_findings, weighted, mass, floor, known, bonus, cost, out): gain per cost, (n, F) float32" },
    { "top_steps", top_steps, METH_VARARGS,
      "top_steps(n, n_findings, weighted, mass, floor, known, bonus, cost, k, steps, values): the k best per case" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rootcause.engine._gain",
    .m_doc = "Information gain kernels (see next_steps.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__gain(void)
{
    return PyModule_Create(&module);
}
