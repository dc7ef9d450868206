/* Information gain per cost of every unasked finding, and the top k, one pass per case.
 *
 * Each case's row is finished while it is in the L1 cache: the sums over causes (z, the
 * spread Σπ H_b(p) and y per urgency level, next_steps.py's docstring) are accumulated here
 * from the posterior, so no (n, 6F) product is ever stored, and the loops over findings are
 * written so that the compiler vectorises them, logarithm included (a branch-free Cephes logf,
 * within 2 ulp of the C library's). Each cause adds to one urgency level only, so the sums
 * cost 2CF multiply-adds per case where a dense product over the six blocks cost 6CF.
 *
 * After the batch size n, the number of causes C and of findings F, the inputs come as
 * C-contiguous buffers (next_steps.py passes NumPy arrays of the right dtype; each buffer's
 * size is checked):
 *   post     (n, C)  float64  posterior
 *   p        (C, F') float32  P(finding present | cause), rows zero-padded to F' = PADDED(F)
 *   spread   (C, F') float32  binary entropy H_b of p, padded likewise
 *   urgency  (C,)    int64    urgency level of each cause (0..3)
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

/* Findings are processed in rows padded to a multiple of 16 floats (one AVX-512 vector), so
 * that every loop over them runs whole vectors only: with 93 findings the scalar remainders
 * had cost a third of the kernel's time. The padding columns of p and spread are zero. */
#define PADDED(n_f) (((n_f) + 15) / 16 * 16)

/* One case's gain per cost over all F findings, into out; scratch holds SCRATCH_FLOATS floats.
 * Built for AVX-512, AVX2 and the baseline, picked at load for the CPU (AVX-512 took 7% off
 * a batch's scoring on this machine's EPYC). Each build does the same IEEE operations per
 * element: -std=c11 keeps GCC from contracting them into FMAs, so all three agree exactly. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static void row_per_cost(const double *restrict post, const float *restrict p_cf, const float *restrict h_cf,
                         const int64_t *restrict urgency, Py_ssize_t n_c, int64_t floor_level,
                         const uint8_t *restrict known, const int64_t *restrict bonus,
                         const float *restrict cost, Py_ssize_t n_f, float *restrict out,
                         float *restrict scratch)
{
    const Py_ssize_t s = PADDED(n_f);
    int lo = floor_level < 0 ? 0 : (floor_level >= N_LEVELS ? N_LEVELS - 1 : (int)floor_level);
    /* scratch rows of s floats: spread, y per level, z, the gain */
    float *restrict spread = scratch, *restrict y = scratch + s, *restrict z = y + N_LEVELS * s,
                    *restrict g = z + s;
    float mass[N_LEVELS] = { 0 };
    memset(scratch, 0, (size_t)(1 + N_LEVELS) * (size_t)s * sizeof(float));
    for (Py_ssize_t c = 0; c < n_c; c++) {
        float w = (float)post[c];
        if (w == 0.0f)
            continue; /* adds nothing */
        /* levels up to the red-flag floor count as one group, carried by the floor level */
        int l = urgency[c] < lo ? lo : (int)urgency[c];
        float *restrict y_l = y + l * s;
        const float *restrict p = p_cf + c * s, *restrict h = h_cf + c * s;
        mass[l] += w;
        for (Py_ssize_t f = 0; f < s; f++)
            y_l[f] += w * p[f];
        for (Py_ssize_t f = 0; f < s; f++)
            spread[f] += w * h[f];
    }
    float mass_term = 0.0f;
    for (int l = lo; l < N_LEVELS; l++)
        mass_term += xlogx(mass[l]);
    memcpy(z, y + lo * s, (size_t)s * sizeof(float)); /* P(X) = Σ_l y_l */
    for (int l = lo + 1; l < N_LEVELS; l++)
        for (Py_ssize_t f = 0; f < s; f++)
            z[f] += y[l * s + f];
    for (Py_ssize_t f = 0; f < s; f++) {
        z[f] = z[f] < 0.0f ? 0.0f : (z[f] > 1.0f ? 1.0f : z[f]);
        g[f] = -(spread[f] + 2.0f * (xlogx(z[f]) + xlogx(1.0f - z[f]))) - mass_term;
    }
    for (int l = lo; l < N_LEVELS; l++) {
        const float *y_l = y + l * s;
        for (Py_ssize_t f = 0; f < s; f++) {
            float rest = mass[l] - y_l[f];
            g[f] += xlogx(y_l[f]) + xlogx(rest > 0.0f ? rest : 0.0f);
        }
    }
    for (Py_ssize_t f = 0; f < n_f; f++) {
        float v = (g[f] + (bonus[f] > floor_level ? z[f] : 0.0f)) / cost[f];
        out[f] = known[f] ? -INFINITY : v;
    }
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
    Py_buffer post, p, spread, urgency, floor, known, bonus, cost;
    Py_ssize_t n, n_c, n_f;
} Inputs;

#define INPUT_FORMAT "nnny*y*y*y*y*y*y*y*"
#define INPUT_ARGS(in)                                                                               \
    &(in).n, &(in).n_c, &(in).n_f, &(in).post, &(in).p, &(in).spread, &(in).urgency, &(in).floor,    \
        &(in).known, &(in).bonus, &(in).cost

static void release_inputs(Inputs *in)
{
    Py_buffer *all[] = { &in->post, &in->p, &in->spread, &in->urgency, &in->floor, &in->known, &in->bonus, &in->cost };
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
    Py_ssize_t n = in->n, c = in->n_c, f = in->n_f;
    if (n < 0 || c < 1 || f < 1) {
        PyErr_Format(PyExc_ValueError,
                     "n, n_conditions, n_findings: expected n >= 0 and the others >= 1, got %zd, %zd, %zd", n, c, f);
        return 0;
    }
    if (!(expect_size("post", &in->post, n * c * (Py_ssize_t)sizeof(double))
          && expect_size("p", &in->p, c * PADDED(f) * (Py_ssize_t)sizeof(float))
          && expect_size("spread", &in->spread, c * PADDED(f) * (Py_ssize_t)sizeof(float))
          && expect_size("urgency", &in->urgency, c * (Py_ssize_t)sizeof(int64_t))
          && expect_size("floor", &in->floor, n * (Py_ssize_t)sizeof(int64_t))
          && expect_size("known", &in->known, n * f)
          && expect_size("bonus", &in->bonus, f * (Py_ssize_t)sizeof(int64_t))
          && expect_size("cost", &in->cost, f * (Py_ssize_t)sizeof(float))))
        return 0;
    const int64_t *urgency = in->urgency.buf;
    for (Py_ssize_t j = 0; j < c; j++)
        if (urgency[j] < 0 || urgency[j] >= N_LEVELS) {
            PyErr_Format(PyExc_ValueError, "urgency: expected levels 0 to %d, got %lld", N_LEVELS - 1,
                         (long long)urgency[j]);
            return 0;
        }
    return 1;
}

#define SCRATCH_FLOATS(in) ((size_t)(3 + N_LEVELS) * (size_t)PADDED((in).n_f))

#define ROW_ARGS(in, i)                                                                              \
    (const double *)(in).post.buf + (i) * (in).n_c, (const float *)(in).p.buf,                       \
        (const float *)(in).spread.buf, (const int64_t *)(in).urgency.buf, (in).n_c,                  \
        ((const int64_t *)(in).floor.buf)[i], (const uint8_t *)(in).known.buf + (i) * (in).n_f,       \
        (const int64_t *)(in).bonus.buf, (const float *)(in).cost.buf, (in).n_f

static PyObject *per_cost(PyObject *self, PyObject *args)
{
    Inputs in = { 0 };
    Py_buffer out = { 0 };
    float *scratch = NULL;
    if (!PyArg_ParseTuple(args, INPUT_FORMAT "w*:per_cost", INPUT_ARGS(in), &out))
        goto fail;
    if (!check_inputs(&in) || !expect_size("out", &out, in.n * in.n_f * (Py_ssize_t)sizeof(float)))
        goto fail;
    scratch = malloc(SCRATCH_FLOATS(in) * sizeof(float));
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
    if (!PyArg_ParseTuple(args, INPUT_FORMAT "nw*w*:top_steps", INPUT_ARGS(in), &k, &steps, &values))
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
    row = malloc(((size_t)in.n_f + SCRATCH_FLOATS(in)) * sizeof(float)); /* the row, then the scratch */
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
      "per_cost(n, n_conditions, n_findings, post, p, spread, urgency, floor, known, bonus, cost, out): "
      "gain per cost, (n, F) float32" },
    { "top_steps", top_steps, METH_VARARGS,
      "top_steps(n, n_conditions, n_findings, post, p, spread, urgency, floor, known, bonus, cost, k, steps, values): "
      "the k best per case" },
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
