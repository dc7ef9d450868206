/* Cases' findings dicts into the int8 state matrix, and sums over each case's stated findings.
 *
 * fill_states(findings, index, n_findings, out): for case i and each (id, answer) of
 * findings[i], out[i, index[id]] = +1 when the answer is True and -1 when it is False;
 * findings not stated stay 0. In Python this was the largest part of encoding a batch
 * (about 1 us a case, with the GIL held); here it is a dict walk and a lookup per finding.
 * The cases were validated before (check_cases), so an unknown id or a non-bool answer is a
 * caller's bug: KeyError or TypeError, and out is left as it was zeroed.
 *
 * signed_sums(state, n_findings, rows, cols, positive, negative, out): for case i,
 *     out[i] = sum of positive[f] over the findings f with state +1
 *            + sum of negative[f] over those with state -1   (negative may be None: skipped)
 * with positive and negative (F, K) float64 tables, out (n, K) float64, and (rows, cols) the
 * nonzero entries of state (int64, as numpy.nonzero gives them, found once per batch). This is
 * x_true @ positive + x_false @ negative without the two dense float matrices: a case states
 * a handful of its F findings, so the sparse sum does a few percent of the products'
 * arithmetic. Rows are added in finding order (the result can differ from BLAS's in the last
 * bits only).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *fill_states(PyObject *self, PyObject *args)
{
    PyObject *findings, *index;
    Py_ssize_t n_f;
    Py_buffer out = { 0 };
    if (!PyArg_ParseTuple(args, "O!O!nw*:fill_states", &PyList_Type, &findings, &PyDict_Type, &index, &n_f,
                          &out))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(findings);
    if (n_f < 1 || out.len != n * n_f) {
        PyErr_Format(PyExc_ValueError, "out: expected %zd bytes, got %zd", n * n_f, out.len);
        goto fail;
    }
    int8_t *state = out.buf;
    memset(state, 0, (size_t)out.len);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *answers = PyList_GET_ITEM(findings, i), *id, *answer;
        if (!PyDict_Check(answers)) {
            PyErr_Format(PyExc_TypeError, "findings[%zd]: expected a dict", i);
            goto fail;
        }
        Py_ssize_t pos = 0;
        while (PyDict_Next(answers, &pos, &id, &answer)) {
            PyObject *column = PyDict_GetItemWithError(index, id);
            if (column == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, id);
                goto fail;
            }
            Py_ssize_t j = PyLong_AsSsize_t(column);
            if (j < 0 || j >= n_f) {
                if (!PyErr_Occurred())
                    PyErr_Format(PyExc_ValueError, "index[%R]: expected 0 to %zd, got %zd", id, n_f - 1, j);
                goto fail;
            }
            if (answer != Py_True && answer != Py_False) {
                PyErr_Format(PyExc_TypeError, "findings[%zd][%R]: expected a bool", i, id);
                goto fail;
            }
            state[i * n_f + j] = answer == Py_True ? 1 : -1;
        }
    }
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
    return NULL;
}

static int expect_bytes(const char *name, const Py_buffer *buf, Py_ssize_t expected)
{
    if (buf->len != expected) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, expected, buf->len);
        return 0;
    }
    return 1;
}

/* out[row] += table[f] for each stated (row, f), the table by the answer's sign; built for
 * AVX-512, AVX2 and the baseline like _gain.c's row kernel. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static void add_rows(const int64_t *restrict rows, const int64_t *restrict cols, Py_ssize_t n_stated,
                     const int8_t *restrict state, Py_ssize_t n_f, const double *restrict pos,
                     const double *restrict neg, Py_ssize_t k, double *restrict sums)
{
    for (Py_ssize_t e = 0; e < n_stated; e++) {
        const int64_t i = rows[e], f = cols[e];
        const double *restrict add = state[i * n_f + f] > 0 ? pos + f * k : neg ? neg + f * k : NULL;
        if (add == NULL)
            continue;
        double *restrict row = sums + i * k;
        for (Py_ssize_t j = 0; j < k; j++)
            row[j] += add[j];
    }
}

static PyObject *signed_sums(PyObject *self, PyObject *args)
{
    Py_buffer state = { 0 }, rows = { 0 }, cols = { 0 }, positive = { 0 }, negative = { 0 }, out = { 0 };
    PyObject *negative_obj;
    Py_ssize_t n_f;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*ny*y*y*Ow*:signed_sums", &state, &n_f, &rows, &cols, &positive, &negative_obj,
                          &out))
        return NULL;
    if (negative_obj != Py_None && PyObject_GetBuffer(negative_obj, &negative, PyBUF_SIMPLE) < 0)
        goto done;
    if (n_f < 1 || state.len % n_f != 0) {
        PyErr_Format(PyExc_ValueError, "state: expected rows of %zd bytes, got %zd bytes", n_f, state.len);
        goto done;
    }
    Py_ssize_t n = state.len / n_f, row_bytes = n_f * (Py_ssize_t)sizeof(double);
    if (positive.len % row_bytes != 0 || positive.len == 0) {
        PyErr_Format(PyExc_ValueError, "positive: expected %zd rows of float64, got %zd bytes", n_f, positive.len);
        goto done;
    }
    Py_ssize_t k = positive.len / row_bytes, n_stated = rows.len / (Py_ssize_t)sizeof(int64_t);
    if ((negative.obj != NULL && !expect_bytes("negative", &negative, positive.len))
        || !expect_bytes("cols", &cols, rows.len) || !expect_bytes("out", &out, n * k * (Py_ssize_t)sizeof(double)))
        goto done;
    const int64_t *row_at = rows.buf, *col_at = cols.buf;
    for (Py_ssize_t e = 0; e < n_stated; e++)
        if (row_at[e] < 0 || row_at[e] >= n || col_at[e] < 0 || col_at[e] >= n_f) {
            PyErr_Format(PyExc_ValueError, "stated[%zd]: (%lld, %lld) is outside the (%zd, %zd) state", e,
                         (long long)row_at[e], (long long)col_at[e], n, n_f);
            goto done;
        }
    Py_BEGIN_ALLOW_THREADS
    memset(out.buf, 0, (size_t)out.len);
    add_rows(row_at, col_at, n_stated, state.buf, n_f, positive.buf, negative.obj != NULL ? negative.buf : NULL, k,
             out.buf);
    Py_END_ALLOW_THREADS
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyBuffer_Release(&state);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&cols);
    PyBuffer_Release(&positive);
    if (negative.obj != NULL)
        PyBuffer_Release(&negative);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    { "fill_states", fill_states, METH_VARARGS,
      "fill_states(findings, index, n_findings, out): +1 / -1 per stated finding into (n, F) int8" },
    { "signed_sums", signed_sums, METH_VARARGS,
      "signed_sums(state, n_findings, rows, cols, positive, negative, out): per case, the positive rows of its present "
      "findings plus the negative rows of its absent ones" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rootcause.engine._findings",
    .m_doc = "Findings dicts to the state matrix, and sums over stated findings (see scoring.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__findings(void)
{
    return PyModule_Create(&module);
}
