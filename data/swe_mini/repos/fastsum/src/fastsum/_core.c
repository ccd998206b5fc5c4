#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* clamp_sum(values, lo, hi): the sum of the values, each first clamped to [lo, hi]. */
static PyObject *clamp_sum(PyObject *self, PyObject *args) {
    PyObject *seq, *fast;
    double lo, hi, total = 0.0;
    if (!PyArg_ParseTuple(args, "Odd", &seq, &lo, &hi))
        return NULL;
    if (lo > hi) {
        PyErr_SetString(PyExc_ValueError, "lo must not exceed hi");
        return NULL;
    }
    fast = PySequence_Fast(seq, "values must be a sequence");
    if (fast == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return NULL;
        }
        if (v < lo)
            v = hi;
        else if (v > hi)
            v = hi;
        total += v;
    }
    Py_DECREF(fast);
    return PyFloat_FromDouble(total);
}

static PyMethodDef methods[] = {
    {"clamp_sum", clamp_sum, METH_VARARGS, "Sum of values clamped to [lo, hi]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
