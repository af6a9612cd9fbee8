/* The per-call work of a repeat search around its graph walk, compiled (engine/ranking.py wraps it):
   the key of its arguments, the arithmetic of the query and of hnswlib's answer, and its page of hits.

   A walk over a large graph leaves the CPU caches cold, and each numpy call after it then costs
   microseconds: the dozen calls that turn hnswlib's answer into hits cost a fifth of the walk at
   300,000 rows (docs/indexes.md, "A compiled path for the per-query arithmetic"). These functions do
   the same arithmetic in one call each, with the same IEEE float32 operations in the same order as
   the numpy code of engine/ranking.py, so their results are the same to the bit (the squared
   norm of a query is summed in double here: see engine/ranking.py).

   Only the buffer protocol is used (no numpy headers), and every buffer is checked for its item format,
   size and bounds: a wrong argument raises TypeError, ValueError or IndexError, never reads out of
   bounds. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "float32 arithmetic must be evaluated in float32 (FLT_EVAL_METHOD 0) to match numpy to the bit"
#endif

/* A C-contiguous buffer of `itemsize`-byte items of one of `formats` ("f": float32; "lLqQ": 8-byte
   integers), native byte order. */
static int
get_buffer(PyObject *obj, Py_buffer *view, const char *formats, Py_ssize_t itemsize, int writable,
           const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=')
        f++;
    if (view->itemsize != itemsize || strlen(f) != 1 || strchr(formats, *f) == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous array of %zd-byte items ('%s'), got format '%s'",
                     name, itemsize, formats, view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* float32 squared norm of `n` floats, summed in double (float32 products are exact in double). */
static float
squared_norm(const float *x, Py_ssize_t n)
{
    double s = 0.0;
    for (Py_ssize_t j = 0; j < n; j++)
        s += (double)x[j] * (double)x[j];
    return (float)s;
}

PyDoc_STRVAR(query_inverse_norm_doc,
"query_inverse_norm(q) -> float | None\n\n"
"1 / |q| (float32) of one float32 query; None when its squared norm is 0, not finite or beyond float32.");

static PyObject *
query_inverse_norm(PyObject *self, PyObject *arg)
{
    Py_buffer q;
    if (get_buffer(arg, &q, "f", 4, 0, "q") < 0)
        return NULL;
    float sq = squared_norm((const float *)q.buf, q.len / 4);
    PyBuffer_Release(&q);
    if (!(sq > 0.0f && sq <= FLT_MAX))
        Py_RETURN_NONE;
    float inv = 1.0f / sqrtf(sq);
    return PyFloat_FromDouble((double)inv);
}

PyDoc_STRVAR(row_inverse_norms_doc,
"row_inverse_norms(q, out) -> None\n\n"
"out[i] = 1 / |q[i]| (float32) for each row of a float32 (rows, dim) matrix; 0 where the squared norm\n"
"is 0 or not finite (beyond float32 included).");

static PyObject *
row_inverse_norms(PyObject *self, PyObject *args)
{
    PyObject *qo, *oo;
    if (!PyArg_ParseTuple(args, "OO:row_inverse_norms", &qo, &oo))
        return NULL;
    Py_buffer q, out;
    if (get_buffer(qo, &q, "f", 4, 0, "q") < 0)
        return NULL;
    if (get_buffer(oo, &out, "f", 4, 1, "out") < 0) {
        PyBuffer_Release(&q);
        return NULL;
    }
    Py_ssize_t rows = out.len / 4;
    if (q.ndim != 2 || q.shape[0] != rows) {
        PyErr_SetString(PyExc_ValueError, "q must be a (rows, dim) matrix with one row per item of out");
        PyBuffer_Release(&q);
        PyBuffer_Release(&out);
        return NULL;
    }
    Py_ssize_t dim = q.shape[1];
    const float *x = (const float *)q.buf;
    float *o = (float *)out.buf;
    for (Py_ssize_t i = 0; i < rows; i++) {
        float sq = squared_norm(x + i * dim, dim);
        o[i] = (sq > 0.0f && sq <= FLT_MAX) ? 1.0f / sqrtf(sq) : 0.0f;
    }
    PyBuffer_Release(&q);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* Stable merge sort of positions `idx[0..n)` by `key` descending (equal keys keep their order). */
static void
merge_sort_desc(Py_ssize_t *idx, Py_ssize_t *tmp, const float *key, Py_ssize_t n)
{
    for (Py_ssize_t width = 1; width < n; width *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * width) {
            Py_ssize_t mid = lo + width < n ? lo + width : n;
            Py_ssize_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            Py_ssize_t a = lo, b = mid, t = lo;
            while (a < mid && b < hi)
                tmp[t++] = key[idx[b]] > key[idx[a]] ? idx[b++] : idx[a++];
            while (a < mid)
                tmp[t++] = idx[a++];
            while (b < hi)
                tmp[t++] = idx[b++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof(Py_ssize_t));
    }
}

static PyObject *
lists_of(const uint64_t *labels, const float *value, const Py_ssize_t *order, Py_ssize_t k)
{
    PyObject *rows = PyList_New(k), *dists = PyList_New(k);
    if (rows == NULL || dists == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < k; i++) {
        Py_ssize_t p = order ? order[i] : i;
        PyObject *r = PyLong_FromUnsignedLongLong((unsigned long long)labels[p]);
        PyObject *d = PyFloat_FromDouble((double)value[p]);
        if (r == NULL || d == NULL) {
            Py_XDECREF(r);
            Py_XDECREF(d);
            goto fail;
        }
        PyList_SET_ITEM(rows, i, r);
        PyList_SET_ITEM(dists, i, d);
    }
    return Py_BuildValue("(NN)", rows, dists);
fail:
    Py_XDECREF(rows);
    Py_XDECREF(dists);
    return NULL;
}

PyDoc_STRVAR(top_lists_doc,
"top_lists(labels, dist, k, similarity, inv_norm, inv_rows) -> (list[int], list[float]) | None\n\n"
"The best k of hnswlib's answer for one query (labels: m 8-byte ints, dist: m float32, best first):\n"
"with similarity False, the first k as they are (L2); with it, sim = 1 - dist, times inv_norm (a\n"
"float32 value, or None), times inv_rows[label] (a float32 array, or None: then the order stands),\n"
"stably sorted best first. None when a similarity is NaN (left to the numpy path).");

static PyObject *
top_lists(PyObject *self, PyObject *args)
{
    PyObject *lo, *dobj, *inv_norm_obj, *inv_rows_obj;
    Py_ssize_t k;
    int similarity;
    if (!PyArg_ParseTuple(args, "OOnpOO:top_lists", &lo, &dobj, &k, &similarity, &inv_norm_obj, &inv_rows_obj))
        return NULL;
    Py_buffer lb, db, rb;
    rb.obj = NULL;
    if (get_buffer(lo, &lb, "lLqQ", 8, 0, "labels") < 0)
        return NULL;
    if (get_buffer(dobj, &db, "f", 4, 0, "dist") < 0) {
        PyBuffer_Release(&lb);
        return NULL;
    }
    PyObject *result = NULL;
    float *sim = NULL;
    Py_ssize_t *idx = NULL;
    Py_ssize_t m = lb.len / 8;
    const uint64_t *labels = (const uint64_t *)lb.buf;
    const float *dist = (const float *)db.buf;
    if (db.len / 4 != m || k < 0 || k > m) {
        PyErr_SetString(PyExc_ValueError, "labels and dist must hold the same number of items, at least k");
        goto done;
    }
    if (!similarity) {
        result = lists_of(labels, dist, NULL, k);
        goto done;
    }
    int scaled = inv_norm_obj != Py_None;
    float inv_norm = 1.0f;
    if (scaled) {
        double v = PyFloat_AsDouble(inv_norm_obj);
        if (v == -1.0 && PyErr_Occurred())
            goto done;
        inv_norm = (float)v;
    }
    const float *inv_rows = NULL;
    Py_ssize_t n_rows = 0;
    if (inv_rows_obj != Py_None) {
        if (get_buffer(inv_rows_obj, &rb, "f", 4, 0, "inv_rows") < 0)
            goto done;
        inv_rows = (const float *)rb.buf;
        n_rows = rb.len / 4;
    }
    sim = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(float));
    if (sim == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int ordered = 1;
    for (Py_ssize_t i = 0; i < m; i++) {
        float s = 1.0f - dist[i];
        if (scaled)
            s = s * inv_norm;
        if (inv_rows != NULL) {
            if (labels[i] >= (uint64_t)n_rows) {
                PyErr_Format(PyExc_IndexError, "label %llu beyond the %zd row norms",
                             (unsigned long long)labels[i], n_rows);
                goto done;
            }
            s = s * inv_rows[labels[i]];
        }
        if (s != s) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        sim[i] = s;
        if (i > 0 && s > sim[i - 1])
            ordered = 0;
    }
    if (inv_rows == NULL || ordered) {
        result = lists_of(labels, sim, NULL, k);
        goto done;
    }
    idx = PyMem_Malloc((size_t)m * 2 * sizeof(Py_ssize_t));
    if (idx == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < m; i++)
        idx[i] = i;
    merge_sort_desc(idx, idx + m, sim, m);
    result = lists_of(labels, sim, idx, k);
done:
    PyMem_Free(idx);
    PyMem_Free(sim);
    if (rb.obj != NULL)
        PyBuffer_Release(&rb);
    PyBuffer_Release(&db);
    PyBuffer_Release(&lb);
    return result;
}


PyDoc_STRVAR(hit_page_doc,
"hit_page(hit_type, rows, dists, pks, pk_name, offset, larger) -> list | None\n\n"
"One query's page of hits: for each (row, distance) from `offset` on, hit_type() holding\n"
"{pk_name: pks[row], \"distance\": distance, \"entity\": {}} and the attribute _pk_name. rows and dists\n"
"are lists of ints and floats, pks int64 primary keys by row. None unless the hits are best first\n"
"(larger: descending distances), ties by primary key, and every row is >= 0 (the caller sorts).");

static PyObject *
hit_page(PyObject *self, PyObject *args)
{
    PyTypeObject *hit_type;
    PyObject *rows, *dists, *pko, *pk_name;
    Py_ssize_t offset;
    int larger;
    if (!PyArg_ParseTuple(args, "O!O!O!OUnp:hit_page", &PyType_Type, &hit_type, &PyList_Type, &rows,
                          &PyList_Type, &dists, &pko, &pk_name, &offset, &larger))
        return NULL;
    if (!PyType_IsSubtype(hit_type, &PyDict_Type) || !PyUnicode_CheckExact(pk_name)) {
        PyErr_SetString(PyExc_TypeError, "hit_type must be a dict subclass and pk_name a str");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    if (PyList_GET_SIZE(dists) != n || offset < 0) {
        PyErr_SetString(PyExc_ValueError, "rows and dists must hold the same number of items; offset >= 0");
        return NULL;
    }
    Py_buffer pb;
    if (get_buffer(pko, &pb, "lq", 8, 0, "pks") < 0)
        return NULL;
    const int64_t *pks = (const int64_t *)pb.buf;
    Py_ssize_t n_pks = pb.len / 8;
    PyObject *page = NULL, *empty = NULL, *attr = NULL, *distance_key = NULL, *entity_key = NULL;
    /* Everything is read and checked first, into C arrays: building the hits below may run Python code
       (a hit type's __new__), which then cannot change what is being read. */
    int64_t *keys = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    double *ds = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(double));
    if (keys == NULL || ds == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ro = PyList_GET_ITEM(rows, i), *dobj = PyList_GET_ITEM(dists, i);
        if (!PyLong_CheckExact(ro) || !PyFloat_CheckExact(dobj)) {
            PyErr_SetString(PyExc_TypeError, "rows must be ints and dists floats");
            goto done;
        }
        Py_ssize_t r = PyLong_AsSsize_t(ro);
        if (r == -1 && PyErr_Occurred())
            goto done;
        double d = PyFloat_AS_DOUBLE(dobj);
        if (r < 0)
            goto unordered;
        if (r >= n_pks) {
            PyErr_Format(PyExc_IndexError, "row %zd beyond the %zd primary keys", r, n_pks);
            goto done;
        }
        if (i > 0 && ((larger ? ds[i - 1] < d : ds[i - 1] > d) || (ds[i - 1] == d && keys[i - 1] > pks[r])))
            goto unordered;
        ds[i] = d;
        keys[i] = pks[r];
    }
    empty = PyTuple_New(0);
    attr = PyUnicode_InternFromString("_pk_name");
    distance_key = PyUnicode_InternFromString("distance");
    entity_key = PyUnicode_InternFromString("entity");
    if (empty == NULL || attr == NULL || distance_key == NULL || entity_key == NULL)
        goto done;
    page = PyList_New(n > offset ? n - offset : 0);
    if (page == NULL)
        goto done;
    for (Py_ssize_t i = offset; i < n; i++) {
        PyObject *hit = hit_type->tp_new(hit_type, empty, NULL);
        if (hit == NULL)
            goto fail;
        PyList_SET_ITEM(page, i - offset, hit);
        PyObject *pk = PyLong_FromLongLong((long long)keys[i]);
        PyObject *distance = PyFloat_FromDouble(ds[i]);
        PyObject *entity = PyDict_New();
        int bad = pk == NULL || distance == NULL || entity == NULL || PyDict_SetItem(hit, pk_name, pk) < 0
                  || PyDict_SetItem(hit, distance_key, distance) < 0 || PyDict_SetItem(hit, entity_key, entity) < 0
                  || PyObject_SetAttr(hit, attr, pk_name) < 0;
        Py_XDECREF(pk);
        Py_XDECREF(distance);
        Py_XDECREF(entity);
        if (bad)
            goto fail;
    }
    goto done;
unordered:
    page = Py_None;
    Py_INCREF(page);
    goto done;
fail:
    Py_CLEAR(page);
done:
    PyMem_Free(keys);
    PyMem_Free(ds);
    Py_XDECREF(empty);
    Py_XDECREF(attr);
    Py_XDECREF(distance_key);
    Py_XDECREF(entity_key);
    PyBuffer_Release(&pb);
    return page;
}

/* ---------------------------------------------------------------- call keys */

#define FREEZE_DEPTH 32
static PyObject *NOT_PLAIN;  /* sentinel: a value that is not plain */

/* (type, value) of a plain value; (dict, ((k, v), ...)) and (list|tuple, (...)) frozen recursively;
   a new reference, NOT_PLAIN (borrowed) for anything else, NULL on error. No Python code runs (no hash,
   no comparison), so the containers cannot change while they are read. */
static PyObject *
freeze(PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type || t == &PyLong_Type || t == &PyFloat_Type || t == &PyBool_Type || v == Py_None)
        return PyTuple_Pack(2, (PyObject *)t, v);
    if (depth >= FREEZE_DEPTH || (t != &PyDict_Type && t != &PyList_Type && t != &PyTuple_Type))
        return NOT_PLAIN;
    int is_dict = t == &PyDict_Type;
    Py_ssize_t n = is_dict ? PyDict_GET_SIZE(v) : Py_SIZE(v);
    PyObject *items = PyTuple_New(n);
    if (items == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item;
        if (is_dict) {
            PyObject *key, *value;
            if (!PyDict_Next(v, &pos, &key, &value)) {  /* (cannot happen: nothing runs that could change it) */
                Py_DECREF(items);
                return NOT_PLAIN;
            }
            PyObject *fk = freeze(key, depth + 1);
            if (fk == NULL || fk == NOT_PLAIN) {
                Py_DECREF(items);
                return fk;
            }
            PyObject *fv = freeze(value, depth + 1);
            if (fv == NULL || fv == NOT_PLAIN) {
                Py_DECREF(fk);
                Py_DECREF(items);
                return fv;
            }
            item = PyTuple_Pack(2, fk, fv);
            Py_DECREF(fk);
            Py_DECREF(fv);
        } else {
            item = freeze(t == &PyList_Type ? PyList_GET_ITEM(v, i) : PyTuple_GET_ITEM(v, i), depth + 1);
            if (item == NOT_PLAIN) {
                Py_DECREF(items);
                return NOT_PLAIN;
            }
        }
        if (item == NULL) {
            Py_DECREF(items);
            return NULL;
        }
        PyTuple_SET_ITEM(items, i, item);
    }
    PyObject *frozen = PyTuple_Pack(2, (PyObject *)t, items);
    Py_DECREF(items);
    return frozen;
}

PyDoc_STRVAR(plan_key_doc,
"plan_key(*parts) -> tuple | None\n\n"
"A hashable key of plain argument values, exact types kept: (type, value) for str, int, float, bool\n"
"and None; dicts, lists and tuples frozen recursively (at most 32 deep); None when a value is not plain.");

static PyObject *
plan_key(PyObject *self, PyObject *args)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *key = PyTuple_New(n);
    if (key == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = freeze(PyTuple_GET_ITEM(args, i), 0);
        if (f == NULL || f == NOT_PLAIN) {
            Py_DECREF(key);
            if (f == NULL)
                return NULL;
            Py_RETURN_NONE;
        }
        PyTuple_SET_ITEM(key, i, f);
    }
    return key;
}

static PyMethodDef methods[] = {
    {"query_inverse_norm", query_inverse_norm, METH_O, query_inverse_norm_doc},
    {"row_inverse_norms", row_inverse_norms, METH_VARARGS, row_inverse_norms_doc},
    {"top_lists", top_lists, METH_VARARGS, top_lists_doc},
    {"hit_page", hit_page, METH_VARARGS, hit_page_doc},
    {"plan_key", plan_key, METH_VARARGS, plan_key_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "engine._ranking",
    "The per-call work of a repeat search around its graph walk, compiled (see engine/ranking.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__ranking(void)
{
    if (NOT_PLAIN == NULL && (NOT_PLAIN = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type)) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
