/* Cases into the scorer's arrays: the int8 state matrix of findings, the other columns, and
 * sums over each case's stated findings.
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
 *
 * case_columns(cases, procedures, reliefs, speeds, trends, sexes, out) -> (contexts, slow):
 * one pass over validated Case structs (engine/case.py) that fills out, (9, n) int64, with
 * one row per column (the order of the COLUMN_ names below), -1 meaning unknown:
 *     procedure, days since surgery, onset day (never after the days since surgery),
 *     relief, speed, trend (indices from the dicts given), surgical context (the index of the
 *     case's (procedure, route, approach, instrumented) in `contexts`, the distinct ones in order
 *     of first appearance), age, sex (an index from `sexes`, -1 for a sex it does not list).
 * `slow` lists the cases with pain scores or an assessment date: their timing is derived by
 * build_timeline (Python), and their timing rows here are only the stated fields. In Python
 * these columns took a tenth of a batch's CPU. A state missing from its dict is a caller's bug
 * (KeyError), as it was in Python.
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

enum { COLUMN_PROCEDURE, COLUMN_DAYS, COLUMN_ONSET, COLUMN_RELIEF, COLUMN_SPEED, COLUMN_TREND,
       COLUMN_CONTEXT, COLUMN_AGE, COLUMN_SEX, N_COLUMNS };

static PyObject *name_surgery, *name_procedure, *name_route, *name_approach, *name_instrumented, *name_age,
    *name_sex, *name_days, *name_leg_pain, *name_onset_days, *name_relief, *name_speed, *name_trend,
    *name_pain_scores, *name_assessed_on;

/* dict[value] as an int64 into *out; None gives -1, and so does a missing value when missing_ok. */
static int index_of(PyObject *index, PyObject *value, int missing_ok, int64_t *out)
{
    if (value == Py_None) {
        *out = -1;
        return 1;
    }
    PyObject *found = PyDict_GetItemWithError(index, value);
    if (found == NULL) {
        if (PyErr_Occurred())
            return 0;
        if (missing_ok) {
            *out = -1;
            return 1;
        }
        PyErr_SetObject(PyExc_KeyError, value);
        return 0;
    }
    *out = PyLong_AsLongLong(found);
    return !(*out == -1 && PyErr_Occurred());
}

static int optional_int(PyObject *value, int64_t *out)
{
    *out = value == Py_None ? -1 : PyLong_AsLongLong(value);
    return !(*out == -1 && value != Py_None && PyErr_Occurred());
}

/* getattr(obj, name) -> index_of / optional_int; the attribute's reference is released. */
static int attr_index(PyObject *obj, PyObject *name, PyObject *index, int missing_ok, int64_t *out)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL)
        return 0;
    int ok = index_of(index, value, missing_ok, out);
    Py_DECREF(value);
    return ok;
}

static int attr_int(PyObject *obj, PyObject *name, int64_t *out)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL)
        return 0;
    int ok = optional_int(value, out);
    Py_DECREF(value);
    return ok;
}

/* The surgical context's index in contexts (inserted when new); *out, 1 on success. */
static int context_of(PyObject *surgery, PyObject *procedure, PyObject *contexts, int64_t *out)
{
    PyObject *route = PyObject_GetAttr(surgery, name_route);
    PyObject *approach = route ? PyObject_GetAttr(surgery, name_approach) : NULL;
    PyObject *instrumented = approach ? PyObject_GetAttr(surgery, name_instrumented) : NULL;
    PyObject *key = instrumented ? PyTuple_Pack(4, procedure, route, approach, instrumented) : NULL;
    Py_XDECREF(route);
    Py_XDECREF(approach);
    Py_XDECREF(instrumented);
    if (key == NULL)
        return 0;
    PyObject *found = PyDict_GetItemWithError(contexts, key);
    int ok = 0;
    if (found != NULL) {
        *out = PyLong_AsLongLong(found);
        ok = !(*out == -1 && PyErr_Occurred());
    } else if (!PyErr_Occurred()) {
        *out = PyDict_GET_SIZE(contexts);
        PyObject *number = PyLong_FromLongLong(*out);
        ok = number != NULL && PyDict_SetItem(contexts, key, number) == 0;
        Py_XDECREF(number);
    }
    Py_DECREF(key);
    return ok;
}

/* The timing fields of leg_pain (None: all unknown); the onset is capped at the days since surgery. */
static int leg_pain_columns(PyObject *pain, PyObject *reliefs, PyObject *speeds, PyObject *trends, int64_t days,
                            int64_t *onset, int64_t *relief, int64_t *speed, int64_t *trend)
{
    if (pain == Py_None) {
        *onset = *relief = *speed = *trend = -1;
        return 1;
    }
    if (!attr_int(pain, name_onset_days, onset) || !attr_index(pain, name_relief, reliefs, 0, relief)
        || !attr_index(pain, name_speed, speeds, 0, speed) || !attr_index(pain, name_trend, trends, 0, trend))
        return 0;
    if (*onset >= 0 && days >= 0 && *onset > days)
        *onset = days;
    return 1;
}

/* Whether build_timeline has anything to derive: pain scores given, or an assessment date. */
static int needs_timeline(PyObject *item)
{
    PyObject *scores = PyObject_GetAttr(item, name_pain_scores);
    if (scores == NULL)
        return -1;
    int slow = PyObject_IsTrue(scores);
    Py_DECREF(scores);
    if (slow != 0)
        return slow;
    PyObject *assessed = PyObject_GetAttr(item, name_assessed_on);
    if (assessed == NULL)
        return -1;
    slow = assessed != Py_None;
    Py_DECREF(assessed);
    return slow;
}

static int one_case(PyObject *item, PyObject *procedures, PyObject *reliefs, PyObject *speeds, PyObject *trends,
                    PyObject *sexes, PyObject *contexts, int64_t *col, Py_ssize_t n, Py_ssize_t i)
{
    PyObject *surgery = PyObject_GetAttr(item, name_surgery);
    if (surgery == NULL)
        return 0;
    PyObject *procedure = PyObject_GetAttr(surgery, name_procedure);
    int ok = procedure != NULL && index_of(procedures, procedure, 0, &col[COLUMN_PROCEDURE * n + i])
             && context_of(surgery, procedure, contexts, &col[COLUMN_CONTEXT * n + i]);
    Py_XDECREF(procedure);
    Py_DECREF(surgery);
    if (!ok || !attr_int(item, name_age, &col[COLUMN_AGE * n + i])
        || !attr_index(item, name_sex, sexes, 1, &col[COLUMN_SEX * n + i])
        || !attr_int(item, name_days, &col[COLUMN_DAYS * n + i]))
        return 0;
    PyObject *pain = PyObject_GetAttr(item, name_leg_pain);
    if (pain == NULL)
        return 0;
    ok = leg_pain_columns(pain, reliefs, speeds, trends, col[COLUMN_DAYS * n + i], &col[COLUMN_ONSET * n + i],
                          &col[COLUMN_RELIEF * n + i], &col[COLUMN_SPEED * n + i], &col[COLUMN_TREND * n + i]);
    Py_DECREF(pain);
    return ok;
}

static PyObject *case_columns(PyObject *self, PyObject *args)
{
    PyObject *cases, *procedures, *reliefs, *speeds, *trends, *sexes;
    Py_buffer out = { 0 };
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!w*:case_columns", &PyList_Type, &cases, &PyDict_Type, &procedures,
                          &PyDict_Type, &reliefs, &PyDict_Type, &speeds, &PyDict_Type, &trends, &PyDict_Type, &sexes,
                          &out))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(cases);
    PyObject *contexts = NULL, *slow = NULL, *result = NULL;
    if (out.len != N_COLUMNS * n * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_Format(PyExc_ValueError, "out: expected %zd bytes, got %zd", N_COLUMNS * n * (Py_ssize_t)sizeof(int64_t),
                     out.len);
        goto done;
    }
    contexts = PyDict_New();
    slow = PyList_New(0);
    if (contexts == NULL || slow == NULL)
        goto done;
    int64_t *col = out.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(cases, i);
        if (!one_case(item, procedures, reliefs, speeds, trends, sexes, contexts, col, n, i))
            goto done;
        int needs = needs_timeline(item);
        if (needs < 0)
            goto done;
        if (needs) {
            PyObject *number = PyLong_FromSsize_t(i);
            int failed = number == NULL || PyList_Append(slow, number) < 0;
            Py_XDECREF(number);
            if (failed)
                goto done;
        }
    }
    PyObject *keys = PyDict_Keys(contexts);
    if (keys != NULL) {
        result = PyTuple_Pack(2, keys, slow);
        Py_DECREF(keys);
    }
done:
    Py_XDECREF(contexts);
    Py_XDECREF(slow);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    { "fill_states", fill_states, METH_VARARGS,
      "fill_states(findings, index, n_findings, out): +1 / -1 per stated finding into (n, F) int8" },
    { "signed_sums", signed_sums, METH_VARARGS,
      "signed_sums(state, n_findings, rows, cols, positive, negative, out): per case, the positive rows of its present "
      "findings plus the negative rows of its absent ones" },
    { "case_columns", case_columns, METH_VARARGS,
      "case_columns(cases, procedures, reliefs, speeds, trends, sexes, out): (9, n) int64 columns; returns "
      "(distinct surgical contexts, cases needing build_timeline)" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rootcause.engine._findings",
    .m_doc = "Cases to the scorer's columns and state matrix, and sums over stated findings (see scoring.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__findings(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        { &name_surgery, "surgery" },         { &name_procedure, "procedure" },
        { &name_route, "route" },             { &name_approach, "approach" },
        { &name_instrumented, "instrumented" }, { &name_age, "age" },
        { &name_sex, "sex" },                 { &name_days, "days_since_surgery" },
        { &name_leg_pain, "leg_pain" },       { &name_onset_days, "onset_days" },
        { &name_relief, "relief_after_surgery" }, { &name_speed, "onset_speed" },
        { &name_trend, "trend" },             { &name_pain_scores, "pain_scores" },
        { &name_assessed_on, "assessed_on" },
    };
    for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
        if ((*names[j].slot = PyUnicode_InternFromString(names[j].text)) == NULL)
            return NULL;
    return PyModule_Create(&module);
}
