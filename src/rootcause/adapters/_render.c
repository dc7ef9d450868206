/* Contract JSON lines (spec §5) for a scored chunk of cases, written in one buffer.
 *
 * lines(ids, head, triages, triage_index, posterior, conditions, steps, gains, step_texts,
 *       ends) -> bytes
 *
 * For case i the line is
 *   {"case_id":<ids[i]>  head  triages[triage_index[i]]
 *   ,"differential":[{"condition":"…","probability":p}, …]  (every cause, most probable first)
 *   ,"next_steps":[{"finding":"…","kind":"…"}, …]}\n          (steps with a finite gain)
 * and ends[i] receives the offset just past it, so that the caller can interleave lines of
 * its own (bad input lines) between them.
 *
 * `conditions` holds each cause's pre-rendered `{"condition":"…","probability":` and
 * `step_texts` each finding's `{"finding":"…","kind":"…"}` (ContractRenderer in ndjson.py
 * renders them once with orjson). A probability is written with twelve decimals, trailing
 * zeros dropped: within 5e-13 of the float, well inside the contract's 1e-9. Ties in the
 * differential keep the lower cause index first (a stable sort). Python did this as NumPy
 * gathers of fixed-width byte tables plus a join per case (3.5 us a case against 1.3 here,
 * with the triage objects) and padded every entry to the longest id.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define DECIMALS 12
#define SCALE 1e12
#define MAX_NUMBER 16 /* "0." + twelve digits, with room to spare */

static const char DIFFERENTIAL[] = ",\"differential\":[";
static const char NEXT_STEPS[] = "],\"next_steps\":[";
static const char LINE_END[] = "]}\n";
static const char CASE_ID[] = "{\"case_id\":";

typedef struct {
    const char *text;
    Py_ssize_t size;
} Text;

/* Each item of a list of bytes as a pointer and a length; NULL on a type error. */
static Text *texts_of(PyObject *list, const char *name, Py_ssize_t expected, Py_ssize_t *longest)
{
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != expected) {
        PyErr_Format(PyExc_ValueError, "%s: expected a list of %zd bytes objects", name, expected);
        return NULL;
    }
    Text *out = PyMem_Malloc((size_t)(expected ? expected : 1) * sizeof(Text));
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    *longest = 0;
    for (Py_ssize_t j = 0; j < expected; j++) {
        PyObject *item = PyList_GET_ITEM(list, j);
        if (!PyBytes_Check(item)) {
            PyMem_Free(out);
            PyErr_Format(PyExc_TypeError, "%s[%zd]: expected bytes", name, j);
            return NULL;
        }
        out[j].text = PyBytes_AS_STRING(item);
        out[j].size = PyBytes_GET_SIZE(item);
        if (out[j].size > *longest)
            *longest = out[j].size;
    }
    return out;
}

static char *put(char *at, const char *text, Py_ssize_t size)
{
    memcpy(at, text, (size_t)size);
    return at + size;
}

/* A JSON string, escaped as RFC 8259 requires and as orjson does (other UTF-8 passes through). */
static char *put_json_string(char *at, const char *text, Py_ssize_t size)
{
    static const char hex[] = "0123456789abcdef";
    *at++ = '"';
    for (Py_ssize_t j = 0; j < size; j++) {
        unsigned char ch = (unsigned char)text[j];
        if (ch == '"' || ch == '\\') {
            *at++ = '\\';
            *at++ = (char)ch;
        } else if (ch < 0x20) {
            *at++ = '\\';
            switch (ch) {
            case '\b': *at++ = 'b'; break;
            case '\f': *at++ = 'f'; break;
            case '\n': *at++ = 'n'; break;
            case '\r': *at++ = 'r'; break;
            case '\t': *at++ = 't'; break;
            default:
                at = put(at, "u00", 3);
                *at++ = hex[ch >> 4];
                *at++ = hex[ch & 15];
            }
        } else {
            *at++ = (char)ch;
        }
    }
    *at++ = '"';
    return at;
}

/* "00" to "99": two digits per division */
static const char PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                            "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                            "8081828384858687888990919293949596979899";

/* p in [0, 1] with twelve decimals, trailing zeros dropped ("0.25", "1.0", "0.0"). */
static char *put_probability(char *at, double p)
{
    double scaled = rint(p * SCALE);
    int64_t fixed = scaled < 0 ? 0 : (scaled > SCALE ? (int64_t)SCALE : (int64_t)scaled);
    int64_t whole = fixed / (int64_t)SCALE, part = fixed % (int64_t)SCALE;
    *at++ = (char)('0' + whole);
    *at++ = '.';
    char digits[DECIMALS];
    for (int d = DECIMALS - 2; d >= 0; d -= 2) {
        memcpy(digits + d, PAIRS + 2 * (part % 100), 2);
        part /= 100;
    }
    int used = DECIMALS;
    while (used > 1 && digits[used - 1] == '0')
        used--;
    return put(at, digits, used);
}

typedef struct {
    double p;
    Py_ssize_t index;
} Ranked;

/* Causes by probability, highest first; equal ones keep index order (insertion sort). */
static void rank(const double *p, Py_ssize_t n_c, Ranked *order)
{
    for (Py_ssize_t j = 0; j < n_c; j++) {
        Ranked item = { p[j], j };
        Py_ssize_t at = j;
        while (at > 0 && order[at - 1].p < item.p) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = item;
    }
}

static int expect_size(const char *name, const Py_buffer *buf, Py_ssize_t expected)
{
    if (buf->len != expected) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, expected, buf->len);
        return 0;
    }
    return 1;
}

static PyObject *lines(PyObject *self, PyObject *args)
{
    PyObject *ids, *triage_list, *condition_list, *step_list, *result = NULL;
    const char *head;
    Py_ssize_t head_size;
    Py_buffer triage_index = { 0 }, posterior = { 0 }, steps = { 0 }, gains = { 0 }, ends = { 0 };
    Text *triages = NULL, *conditions = NULL, *step_texts = NULL;
    Ranked *order = NULL;
    if (!PyArg_ParseTuple(args, "O!y#Oy*y*Oy*y*Ow*:lines", &PyList_Type, &ids, &head, &head_size, &triage_list,
                          &triage_index, &posterior, &condition_list, &steps, &gains, &step_list, &ends))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ids), n_c = PyList_Check(condition_list) ? PyList_GET_SIZE(condition_list) : 0;
    Py_ssize_t n_k = n ? steps.len / (Py_ssize_t)sizeof(int64_t) / n : 0;
    Py_ssize_t n_f = PyList_Check(step_list) ? PyList_GET_SIZE(step_list) : 0;
    Py_ssize_t n_t = PyList_Check(triage_list) ? PyList_GET_SIZE(triage_list) : 0;
    Py_ssize_t longest_triage, longest_condition, longest_step;
    if (n_c < 1) {
        PyErr_SetString(PyExc_ValueError, "conditions: expected a non-empty list of bytes objects");
        goto done;
    }
    if (!expect_size("triage_index", &triage_index, n * (Py_ssize_t)sizeof(int64_t))
        || !expect_size("posterior", &posterior, n * n_c * (Py_ssize_t)sizeof(double))
        || !expect_size("steps", &steps, n * n_k * (Py_ssize_t)sizeof(int64_t))
        || !expect_size("gains", &gains, n * n_k * (Py_ssize_t)sizeof(float))
        || !expect_size("ends", &ends, n * (Py_ssize_t)sizeof(int64_t)))
        goto done;
    if ((triages = texts_of(triage_list, "triages", n_t, &longest_triage)) == NULL
        || (conditions = texts_of(condition_list, "conditions", n_c, &longest_condition)) == NULL
        || (step_texts = texts_of(step_list, "step_texts", n_f, &longest_step)) == NULL)
        goto done;
    const int64_t *triage_at = triage_index.buf, *step_at = steps.buf;
    const float *gain = gains.buf;
    /* the room a line can take, from the longest of each part; each id is measured below */
    Py_ssize_t fixed = (Py_ssize_t)(sizeof CASE_ID + sizeof DIFFERENTIAL + sizeof NEXT_STEPS + sizeof LINE_END)
                     + head_size + longest_triage + n_c * (longest_condition + MAX_NUMBER + 2)
                     + n_k * (longest_step + 1);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *id = PyList_GET_ITEM(ids, i);
        Py_ssize_t id_size = 4; /* null */
        if (id != Py_None) {
            if (!PyUnicode_Check(id) || PyUnicode_AsUTF8AndSize(id, &id_size) == NULL) {
                if (!PyErr_Occurred())
                    PyErr_Format(PyExc_TypeError, "ids[%zd]: expected a str or None", i);
                goto done;
            }
            id_size = 6 * id_size + 2; /* every byte escaped, and the quotes */
        }
        int64_t t = triage_at[i];
        if (t < 0 || t >= n_t) {
            PyErr_Format(PyExc_ValueError, "triage_index[%zd]: expected 0 to %zd, got %lld", i, n_t - 1, (long long)t);
            goto done;
        }
        for (Py_ssize_t s = 0; s < n_k; s++)
            if (isfinite(gain[i * n_k + s]) && (step_at[i * n_k + s] < 0 || step_at[i * n_k + s] >= n_f)) {
                PyErr_Format(PyExc_ValueError, "steps[%zd]: a finding index outside 0 to %zd", i, n_f - 1);
                goto done;
            }
        total += fixed + id_size;
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    order = PyMem_Malloc((size_t)n_c * sizeof(Ranked));
    if (result == NULL || order == NULL) {
        Py_CLEAR(result);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    char *start = PyBytes_AS_STRING(result), *at = start;
    int64_t *end_of = ends.buf;
    const double *p = posterior.buf;
    for (Py_ssize_t i = 0; i < n; i++, p += n_c) {
        at = put(at, CASE_ID, sizeof CASE_ID - 1);
        PyObject *id = PyList_GET_ITEM(ids, i);
        if (id == Py_None) {
            at = put(at, "null", 4);
        } else {
            Py_ssize_t size;
            const char *text = PyUnicode_AsUTF8AndSize(id, &size);
            at = put_json_string(at, text, size);
        }
        at = put(at, head, head_size);
        const Text *triage = &triages[triage_at[i]];
        at = put(at, triage->text, triage->size);
        at = put(at, DIFFERENTIAL, sizeof DIFFERENTIAL - 1);
        rank(p, n_c, order);
        for (Py_ssize_t j = 0; j < n_c; j++) {
            const Text *cause = &conditions[order[j].index];
            if (j)
                *at++ = ',';
            at = put(at, cause->text, cause->size);
            at = put_probability(at, order[j].p);
            *at++ = '}';
        }
        at = put(at, NEXT_STEPS, sizeof NEXT_STEPS - 1);
        int first = 1;
        for (Py_ssize_t s = 0; s < n_k; s++) {
            if (!isfinite(gain[i * n_k + s]))
                continue;
            if (!first)
                *at++ = ',';
            first = 0;
            const Text *step = &step_texts[step_at[i * n_k + s]];
            at = put(at, step->text, step->size);
        }
        at = put(at, LINE_END, sizeof LINE_END - 1);
        end_of[i] = at - start;
    }
    if (_PyBytes_Resize(&result, at - start) < 0)
        result = NULL;
done:
    PyMem_Free(order);
    PyMem_Free(triages);
    PyMem_Free(conditions);
    PyMem_Free(step_texts);
    Py_buffer *buffers[] = { &triage_index, &posterior, &steps, &gains, &ends };
    for (size_t j = 0; j < sizeof buffers / sizeof buffers[0]; j++)
        if (buffers[j]->obj != NULL)
            PyBuffer_Release(buffers[j]);
    return result;
}

static PyMethodDef methods[] = {
    { "lines", lines, METH_VARARGS,
      "lines(ids, head, triages, triage_index, posterior, conditions, steps, gains, step_texts, ends) -> bytes" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rootcause.adapters._render",
    .m_doc = "Contract JSON lines for a scored chunk (see ndjson.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__render(void)
{
    return PyModule_Create(&module);
}
