/* Cases' findings dicts into the int8 state matrix the scorer multiplies.
 *
 * fill_states(findings, index, n_findings, out): for case i and each (id, answer) of
 * findings[i], out[i, index[id]] = +1 when the answer is True and -1 when it is False;
 * findings not stated stay 0. In Python this was the largest part of encoding a batch
 * (about 1 us a case, with the GIL held); here it is a dict walk and a lookup per finding.
 * The cases were validated before (check_cases), so an unknown id or a non-bool answer is a
 * caller's bug: KeyError or TypeError, and out is left as it was zeroed.
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

static PyMethodDef methods[] = {
    { "fill_states", fill_states, METH_VARARGS,
      "fill_states(findings, index, n_findings, out): +1 / -1 per stated finding into (n, F) int8" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rootcause.engine._findings",
    .m_doc = "Findings dicts to the state matrix (see scoring.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__findings(void)
{
    return PyModule_Create(&module);
}
