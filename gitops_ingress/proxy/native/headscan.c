/* gitops_ingress.proxy.native._headscan: one whole, plain HTTP/1.1 request head read in one C call.
 *
 * Why: for a browser's request (a dozen header lines), httptools' callbacks and the Python around
 * them were more than half of the proxy's own work per request (bench/proxy_instructions.py):
 * llhttp calls back per field name and per value, httptools makes bytes of each and calls a Python
 * method per header. This reads the same head in one call and hands back the same pieces.
 *
 * What it takes, and why that is safe (proxy/request_reader.py's ``read_whole`` uses it): only a
 * strict subset of what llhttp accepts, read exactly as llhttp reads it, and only a read that is
 * one whole head and nothing else, begun between messages. Anything else is declined (None), and
 * then the very same bytes go to llhttp as before, which accepts or refuses them as it always did;
 * so this never accepts what the parser would refuse, and never reads a head differently
 * (tests/proxy/test_headscan.py checks both against httptools over generated heads). Taken:
 *
 *   request-line = method SP origin-form SP "HTTP/1.1" CRLF   (RFC 9112 3)
 *     method: GET HEAD POST PUT DELETE OPTIONS PATCH (methods llhttp knows; no CONNECT, no
 *       extension method: those take the parser's way)
 *     origin-form: "/" then bytes 0x21-0x7E (llhttp's own URL checks come after, in decide.py's
 *       and paths.py's rules, the same for both ways)
 *   field-line = field-name ":" OWS field-value CRLF           (RFC 9112 5)
 *     field-name: 1*tchar (RFC 9110 5.6.2), as sent (not lowercased)
 *     field-value: bytes 0x20-0x7E and HTAB after the leading OWS, which is dropped; trailing
 *       whitespace is kept, as llhttp keeps it; may be empty
 *   then CRLF, which must be the read's last two bytes.
 *
 * Declined besides: obs-fold, bare LF or CR, bytes 0x7F and above, more than MAX_FIELDS lines, and
 * every head whose framing is not "no body, connection kept": a Content-Length, a
 * Transfer-Encoding, an Upgrade, an Expect, or a Connection value that mentions "close"
 * (case-insensitive, as a substring: more than llhttp's token rule declines, never less). So a
 * head taken here leaves the connection between messages, as the parser would have.
 *
 * Returns (method, target, fields), or None. fields is a list of three items per header line:
 * its name, its value, and the whole line (CRLF included) when that is exactly name ": " value
 * CRLF, the form the proxy forwards a header in (None otherwise: other whitespace around the
 * value), so that the line need not be put together again from four pieces. The limits (request
 * line, header count and bytes) are the reader's, applied to these pieces by the same callbacks
 * that the parser's pieces go through.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_FIELDS 256 /* header lines; the reader's own limit is lower by default (max_headers) */

static unsigned char tchar[256];      /* RFC 9110 5.6.2 token characters */
static unsigned char target_char[256]; /* 0x21-0x7E */
static unsigned char value_char[256];  /* 0x20-0x7E, HTAB */

static PyObject *methods[7]; /* interned method names, handed out instead of new bytes objects */
static const char *const method_names[7] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};

static void init_tables(void) {
    const char *extra = "!#$%&'*+-.^_`|~";
    for (int c = '0'; c <= '9'; c++) tchar[c] = 1;
    for (int c = 'a'; c <= 'z'; c++) tchar[c] = 1;
    for (int c = 'A'; c <= 'Z'; c++) tchar[c] = 1;
    for (const char *p = extra; *p; p++) tchar[(unsigned char)*p] = 1;
    for (int c = 0x21; c <= 0x7E; c++) target_char[c] = 1;
    for (int c = 0x20; c <= 0x7E; c++) value_char[c] = 1;
    value_char['\t'] = 1;
}

/* Eight bytes at a time (the common case: plain ASCII), whether all lie in [low, 0x7E]: a word
 * with a byte below `low` or above 0x7E fails, and the caller then goes byte by byte (which also
 * finds the CR that ends a line, HTAB in a value, and so on). The usual SWAR tests for a byte less
 * than n and more than n (n < 128); each byte is tested on its own, no carry crosses bytes that
 * matter (a failed word is looked at again bytewise). */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline int word_within(uint64_t w, unsigned char low) {
    uint64_t below = (w - ONES * low) & ~w & HIGHS;
    uint64_t above = ((w + ONES * (127 - 0x7E)) | w) & HIGHS;
    return (below | above) == 0;
}

static inline Py_ssize_t skip_words(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, unsigned char low) {
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (!word_within(w, low)) break;
        i += 8;
    }
    return i;
}

static PyObject *known_method(const unsigned char *s, Py_ssize_t n) {
    for (int i = 0; i < 7; i++) {
        if ((Py_ssize_t)strlen(method_names[i]) == n && memcmp(s, method_names[i], (size_t)n) == 0) {
            return methods[i];
        }
    }
    return NULL;
}

/* Whether a field name of n bytes at s is `name` (lowercase), ignoring ASCII case. */
static int name_is(const unsigned char *s, Py_ssize_t n, const char *name) {
    if ((Py_ssize_t)strlen(name) != n) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)name[i]) return 0;
    }
    return 1;
}

static int mentions_close(const unsigned char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i + 5 <= n; i++) {
        if ((s[i] | 0x20) == 'c' && (s[i + 1] | 0x20) == 'l' && (s[i + 2] | 0x20) == 'o' &&
            (s[i + 3] | 0x20) == 's' && (s[i + 4] | 0x20) == 'e') {
            return 1;
        }
    }
    return 0;
}

/* Whether a field ends the fast way: its framing or its connection is the parser's business. */
static int declines_field(const unsigned char *name, Py_ssize_t n, const unsigned char *value, Py_ssize_t v) {
    switch (n) {
    case 6: return name_is(name, n, "expect");
    case 7: return name_is(name, n, "upgrade");
    case 10: return name_is(name, n, "connection") && mentions_close(value, v);
    case 14: return name_is(name, n, "content-length");
    case 17: return name_is(name, n, "transfer-encoding");
    default: return 0;
    }
}

static PyObject *scan_head(PyObject *module, PyObject *arg) {
    (void)module;
    if (!PyBytes_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "scan_head() takes bytes");
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    Py_ssize_t i = 0;
    while (i < n && tchar[s[i]]) i++;
    PyObject *method = known_method(s, i);
    if (method == NULL || i >= n || s[i] != ' ') Py_RETURN_NONE;
    Py_ssize_t target_start = ++i;
    if (i >= n || s[i] != '/') Py_RETURN_NONE;
    i = skip_words(s, i, n, 0x21);
    while (i < n && target_char[s[i]]) i++;
    Py_ssize_t target_end = i;
    if (n - i < 11 || memcmp(s + i, " HTTP/1.1\r\n", 11) != 0) Py_RETURN_NONE;
    i += 11;

    Py_ssize_t spans[4 * MAX_FIELDS]; /* name start, name end, value start, value end (at CR) */
    int count = 0;
    for (;;) {
        if (n - i < 2) Py_RETURN_NONE;
        if (s[i] == '\r') {
            if (s[i + 1] == '\n' && i + 2 == n) break; /* the empty line, and the read ends with it */
            Py_RETURN_NONE;
        }
        if (count == MAX_FIELDS) Py_RETURN_NONE;
        Py_ssize_t j = i;
        while (j < n && tchar[s[j]]) j++;
        if (j == i || j >= n || s[j] != ':') Py_RETURN_NONE; /* no name, or a space before ':' */
        Py_ssize_t name_end = j++;
        while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
        Py_ssize_t value_start = j;
        j = skip_words(s, j, n, 0x20);
        while (j < n && value_char[s[j]]) j++;
        if (n - j < 2 || s[j] != '\r' || s[j + 1] != '\n') Py_RETURN_NONE;
        if (declines_field(s + i, name_end - i, s + value_start, j - value_start)) Py_RETURN_NONE;
        spans[4 * count] = i;
        spans[4 * count + 1] = name_end;
        spans[4 * count + 2] = value_start;
        spans[4 * count + 3] = j;
        count++;
        i = j + 2;
    }

    PyObject *fields = PyList_New(3 * (Py_ssize_t)count);
    if (fields == NULL) return NULL;
    for (int k = 0; k < count; k++) {
        const Py_ssize_t *span = spans + 4 * k;
        PyObject *name = PyBytes_FromStringAndSize((const char *)s + span[0], span[1] - span[0]);
        PyObject *value = PyBytes_FromStringAndSize((const char *)s + span[2], span[3] - span[2]);
        PyObject *line = Py_None;
        if (span[2] == span[1] + 2 && s[span[1] + 1] == ' ') { /* "name: value": forwarded as it is */
            line = PyBytes_FromStringAndSize((const char *)s + span[0], span[3] + 2 - span[0]);
        } else {
            Py_INCREF(line);
        }
        PyList_SET_ITEM(fields, 3 * k, name); /* a NULL among them is cleared with the list */
        PyList_SET_ITEM(fields, 3 * k + 1, value);
        PyList_SET_ITEM(fields, 3 * k + 2, line);
        if (name == NULL || value == NULL || line == NULL) {
            Py_DECREF(fields);
            return NULL;
        }
    }
    PyObject *target = PyBytes_FromStringAndSize((const char *)s + target_start, target_end - target_start);
    if (target == NULL) {
        Py_DECREF(fields);
        return NULL;
    }
    PyObject *result = PyTuple_New(3);
    if (result == NULL) {
        Py_DECREF(fields);
        Py_DECREF(target);
        return NULL;
    }
    Py_INCREF(method);
    PyTuple_SET_ITEM(result, 0, method);
    PyTuple_SET_ITEM(result, 1, target);
    PyTuple_SET_ITEM(result, 2, fields);
    return result;
}

static PyMethodDef headscan_methods[] = {
    {"scan_head", scan_head, METH_O,
     "scan_head(data) -> (method, target, [name, value, line, ...]) for a read that is one whole plain "
     "HTTP/1.1 request head (see the module's source), else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef headscan_module = {
    PyModuleDef_HEAD_INIT, "gitops_ingress.proxy.native._headscan",
    "One whole, plain HTTP/1.1 request head read in one call (proxy/native/headscan.c).", -1,
    headscan_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__headscan(void) {
    init_tables();
    for (int i = 0; i < 7; i++) {
        methods[i] = PyBytes_FromString(method_names[i]);
        if (methods[i] == NULL) return NULL;
    }
    return PyModule_Create(&headscan_module);
}
