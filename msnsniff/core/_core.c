/* The compiled core: capture records -> Segments, or framed MSNP commands.
 *
 * One object per capture file.  It reads pcap / pcapng records (any byte order, µs and
 * ns times), parses Ethernet / VLAN / SLL / SLL2 / raw / loopback, IPv4 and IPv6 and
 * TCP exactly as capture/packet.py does, and skips what cannot matter as
 * capture/packet.py `_irrelevant` does.  Each packet that reaches msnsniff becomes one
 * item of the iteration:
 *
 *   Segment                      a packet for the Python pipeline (packet.Segment)
 *   (cid, dir, ts, cmds)         a packet of a connection the pipeline handed to the core
 *                                ("adopted"): in order, plain flags, every line a
 *                                well-formed command; cmds = the RawCommands it
 *                                completed (stream/framing.py's objects), or None
 *   (cid, state, Segment)        the core gives an adopted connection back (anything
 *                                unusual: reordering, FIN/SYN/RST, snaplen, a line
 *                                that is not a command, a long line, an impossible
 *                                length, MSNFTP) before its packet, which the Python
 *                                path then handles as if it had done everything itself
 *
 * Why this split: the Python path is the one definition of the analysis; the core only
 * takes the common case, and decides by looking at a packet before it changes anything,
 * so handing back is exact.  Tables are bounded by the pipeline's own limits: the core
 * only holds connections the pipeline adopted (open ones), and partial lines are at most
 * max_line bytes, as in Python.
 *
 * The file is read with read(2) into one buffer that grows to the largest record/block
 * (at most 16 MiB, as capture/files.py), so memory does not grow with the capture.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <math.h>
#include <arpa/inet.h>

#define MAX_RECORD (262144 * 4)
#define MAX_BLOCK (16 * 1024 * 1024)
#define MAX_TS 253402300799.0
#define NVERBS (26 * 26 * 26 + 1000)

enum { FIN = 1, SYN = 2, RST = 4 };
enum { LINE = 0, PAYLOAD = 1 };

/* Segment's and RawCommand's slots, in constructor order */
static const char *SEG_SLOTS[] = {"ts", "src", "sport", "dst", "dport", "seq", "ack",
                                  "flags", "payload", "frame", "missing"};
#define NSEG 11
static const char *CMD_SLOTS[] = {"verb", "trid", "params", "payload", "offset", "length",
                                  "declared", "missing", "bad_utf8", "ts"};
#define NCMD 10
enum { C_VERB, C_TRID, C_PARAMS, C_PAYLOAD, C_OFFSET, C_LENGTH, C_DECLARED, C_MISSING,
       C_BADUTF8, C_TS };

typedef struct {
    int64_t next_seq;           /* -1: not known yet (no byte of this direction seen) */
    int64_t offset, delivered, segments;
    int64_t base, need, lines, decoded, fed;
    int state;
    unsigned char *buf;         /* a partial line (LINE) */
    Py_ssize_t buf_len, buf_cap;
    PyObject *cmd;              /* the command waiting for its payload (PAYLOAD) */
    PyObject *parts;            /* list of bytes of that payload so far */
} Half;

typedef struct Flow {
    struct Flow *next;
    uint8_t v6;
    uint8_t ca[16], sa[16];     /* client and server address */
    uint16_t cp, sp;
    long cid;
    Half h[2];
} Flow;

typedef struct {
    uint8_t v6;
    const uint8_t *src, *dst;
    unsigned sport, dport;
    uint32_t seq, ack;
    unsigned flags;
    const unsigned char *payload;
    Py_ssize_t plen, missing;
} Parsed;

typedef struct {
    int lt;
    double unit;
    int64_t tsoffset;
    int64_t scale;              /* round(1/unit) when unit < 1e-6, else 0 */
    int slow;                   /* a unit whose arithmetic is left to Python */
} Iface;

typedef struct {
    PyObject_HEAD
    int fd;
    unsigned char *buf;
    size_t cap, len, pos;
    int eof;
    int64_t offset;             /* bytes of the file consumed (capture/files.py _Reader) */
    int kind;                   /* 0 pcap, 1 pcapng */
    int big;                    /* byte order of the file / section */
    double unit;
    int lt;
    Iface *ifaces;
    Py_ssize_t nifaces, ifcap;
    int ended;
    int64_t frame;
    /* statistics (CaptureStats) */
    int64_t packets, bytes, tcp_segments, non_ip, non_tcp, ip_fragments, snapped,
        bad_headers, skipped, bad_times, bad_checksums;
    int64_t *links;             /* packets per unsupported link type below 65536 (lazy) */
    int big_lt;                 /* a pcap file's own link type of 65536 or more, and */
    int64_t big_lt_count;       /* its count (pcapng's link types are 16-bit) */
    PyObject *truncated;
    PyObject *stats;
    /* what can matter (capture/follow.py) */
    uint8_t ports[8192];
    uint64_t *pairs;            /* hash set of (sport << 16 | dport) | 1 << 32 */
    size_t npairs, pairs_cap;
    uint32_t words[16];
    int nwords;
    /* the Python side */
    PyTypeObject *seg_cls, *cmd_cls;
    Py_ssize_t seg_off[NSEG], cmd_off[NCMD];
    PyObject *fmt_ip6, *ts_slow;
    Py_ssize_t max_line, max_payload;
    int8_t min_args[NVERBS];
    uint8_t no_trid[NVERBS];
    PyObject *verbs[NVERBS];
    PyObject *ip4cache[1024];
    uint32_t ip4keys[1024];
    /* adopted connections */
    Flow **table;
    size_t tsize, nflows;
    unsigned char *scratch;
    Py_ssize_t scratch_cap;
    int ready;                  /* __init__ succeeded: every method checks it */
} Core;

/* ------------------------------------------------------------------ helpers */

static inline uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline uint16_t rd16(const Core *c, const unsigned char *p) {
    return c->big ? be16(p) : (uint16_t)(p[1] << 8 | p[0]);
}
static inline uint32_t rd32(const Core *c, const unsigned char *p) {
    return c->big ? be32(p) : le32(p);
}

static int set_slot(PyObject *o, Py_ssize_t off, PyObject *v) {
    /* v is a new reference (NULL: an error) */
    if (v == NULL) return -1;
    PyObject **slot = (PyObject **)((char *)o + off);
    Py_XSETREF(*slot, v);
    return 0;
}

static PyObject *new_instance(PyTypeObject *t) { return t->tp_alloc(t, 0); }

static int slot_offsets(PyTypeObject *cls, const char **names, int n, Py_ssize_t *out) {
    for (int i = 0; i < n; i++) {
        PyObject *d = PyObject_GetAttrString((PyObject *)cls, names[i]);
        if (d == NULL) return -1;
        if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            Py_DECREF(d);
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", cls->tp_name, names[i]);
            return -1;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        out[i] = m->offset;
        Py_DECREF(d);
        if (m->type != T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", cls->tp_name, names[i]);
            return -1;
        }
    }
    return 0;
}

static int verb_code(const unsigned char *v) {
    /* 3 upper-case ASCII letters or 3 ASCII digits -> 0..NVERBS-1, else -1 */
    if (v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z' && v[2] >= 'A' && v[2] <= 'Z')
        return ((v[0] - 'A') * 26 + (v[1] - 'A')) * 26 + (v[2] - 'A');
    if (v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' && v[2] >= '0' && v[2] <= '9')
        return 26 * 26 * 26 + (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    return -1;
}

/* ------------------------------------------------------------------ file input */

/* make n bytes available at buf+pos; returns how many are (fewer only at end of file) */
static Py_ssize_t want(Core *c, size_t n) {
    if (c->len - c->pos >= n) return (Py_ssize_t)n;
    if (c->pos) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (n > c->cap) {
        size_t cap = c->cap;
        while (cap < n) cap *= 2;
        unsigned char *b = PyMem_Realloc(c->buf, cap);
        if (b == NULL) { PyErr_NoMemory(); return -1; }
        c->buf = b;
        c->cap = cap;
    }
    while (!c->eof && c->len < n) {
        ssize_t r;
        Py_BEGIN_ALLOW_THREADS
        r = read(c->fd, c->buf + c->len, c->cap - c->len);
        Py_END_ALLOW_THREADS
        if (r < 0) {
            if (errno == EINTR) {
                if (PyErr_CheckSignals()) return -1;
                continue;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (r == 0) c->eof = 1;
        c->len += (size_t)r;
    }
    return (Py_ssize_t)(c->len - c->pos < n ? c->len - c->pos : n);
}

/* take k bytes (k <= what want() returned) */
static inline const unsigned char *take(Core *c, Py_ssize_t k) {
    const unsigned char *p = c->buf + c->pos;
    c->pos += (size_t)k;
    c->offset += k;
    return p;
}

static void truncated(Core *c, PyObject *msg) {
    Py_XSETREF(c->truncated, msg);
    if (msg == NULL) PyErr_Clear();
}

/* ------------------------------------------------------------------ packets */

static int count_link(Core *c, int lt) {
    if (lt >= 65536) {
        c->big_lt = lt;
        c->big_lt_count++;
        return 0;
    }
    if (c->links == NULL && (c->links = PyMem_Calloc(65536, sizeof(int64_t))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->links[lt]++;
    return 0;
}

static Py_ssize_t ip_offset(int lt, const unsigned char *b, Py_ssize_t n) {
    if (lt == 1) {
        Py_ssize_t off = 12;
        while (off + 2 <= n) {
            unsigned et = be16(b + off);
            if (et == 0x8100 || et == 0x88A8 || et == 0x9100) { off += 4; continue; }
            if (et == 0x0800 || et == 0x86DD) return off + 2;
            return -1;
        }
        return -3;
    }
    if (lt == 101 || lt == 12 || lt == 14 || lt == 228 || lt == 229) return 0;
    if (lt == 0 || lt == 108) {
        if (n < 4) return -3;
        uint32_t le = le32(b), be = be32(b);
        uint32_t fam = le < 256 ? le : be;
        return (fam == 2 || fam == 24 || fam == 28 || fam == 30) ? 4 : -1;
    }
    if (lt == 113) {
        if (n < 16) return -3;
        unsigned p = be16(b + 14);
        return (p == 0x0800 || p == 0x86DD) ? 16 : -1;
    }
    if (lt == 276) {
        if (n < 20) return -3;
        unsigned p = be16(b);
        return (p == 0x0800 || p == 0x86DD) ? 20 : -1;
    }
    return -2;
}

static int checksum_ok(const unsigned char *b, Py_ssize_t ipoff, Py_ssize_t t,
                       Py_ssize_t end, int v6) {
    /* ones' complement sum of the pseudo-header and segment, mod 0xFFFF (packet.py) */
    uint64_t s = 6 + (uint64_t)(end - t);
    const unsigned char *a = b + ipoff + (v6 ? 8 : 12);
    int na = v6 ? 32 : 8;
    for (int i = 0; i < na; i += 2) s += be16(a + i);
    Py_ssize_t i = t;
    for (; i + 1 < end; i += 2) s += be16(b + i);
    if (i < end) s += (uint64_t)b[i] << 8;
    return s % 0xFFFF == 0;
}

/* 1: a TCP segment (in *p); 0: counted and dropped; -1: an error (no memory) */
static int parse(Core *c, int lt, const unsigned char *b, Py_ssize_t n, Parsed *p) {
    Py_ssize_t off = ip_offset(lt, b, n);
    if (off < 0) {
        if (off == -2) return count_link(c, lt);
        else if (off == -3) c->bad_headers++;
        else c->non_ip++;
        return 0;
    }
    if (off >= n) { c->bad_headers++; return 0; }
    int ver = b[off] >> 4;
    Py_ssize_t end, t;
    if (ver == 4) {
        if (off + 20 > n) { c->bad_headers++; return 0; }
        Py_ssize_t ihl = (b[off] & 0x0F) * 4;
        Py_ssize_t total = be16(b + off + 2);
        if (ihl < 20 || total < ihl) { c->bad_headers++; return 0; }
        if (be16(b + off + 6) & 0x3FFF) { c->ip_fragments++; return 0; }
        if (b[off + 9] != 6) { c->non_tcp++; return 0; }
        p->v6 = 0;
        p->src = b + off + 12;
        p->dst = b + off + 16;
        end = off + total;
        t = off + ihl;
    } else if (ver == 6) {
        if (off + 40 > n) { c->bad_headers++; return 0; }
        Py_ssize_t plen = be16(b + off + 4);
        unsigned nxt = b[off + 6];
        p->v6 = 1;
        p->src = b + off + 8;
        p->dst = b + off + 24;
        end = off + 40 + plen;
        t = off + 40;
        while (nxt == 0 || nxt == 43 || nxt == 60 || nxt == 51 || nxt == 44) {
            if (t + 8 > n) { c->bad_headers++; return 0; }
            if (nxt == 44) { c->ip_fragments++; return 0; }
            Py_ssize_t hl = nxt == 51 ? (b[t + 1] + 2) * 4 : (b[t + 1] + 1) * 8;
            nxt = b[t];
            t += hl;
        }
        if (nxt != 6) { c->non_tcp++; return 0; }
    } else {
        c->non_ip++;
        return 0;
    }
    if (t + 20 > n) { c->bad_headers++; return 0; }
    Py_ssize_t doff = (b[t + 12] >> 4) * 4;
    if (doff < 20 || t + doff > end) { c->bad_headers++; return 0; }
    p->missing = 0;
    if (end > n) {
        p->missing = end - n;
        end = n;
        c->snapped++;
    } else if (!checksum_ok(b, off, t, end, p->v6)) {
        c->bad_checksums++;
    }
    c->tcp_segments++;
    p->sport = be16(b + t);
    p->dport = be16(b + t + 2);
    p->seq = be32(b + t + 4);
    p->ack = be32(b + t + 8);
    p->flags = b[t + 13];
    p->payload = b + t + doff;
    /* (options past the bytes the capture kept: no payload, as Python's slice) */
    p->plen = end - t - doff > 0 ? end - t - doff : 0;
    return 1;
}

static inline size_t pair_slot(uint32_t k, size_t cap) {
    return (size_t)((k * 2654435761u) ^ (k >> 16)) & (cap - 1);
}

static int pair_in(const Core *c, uint32_t k) {
    for (size_t i = pair_slot(k, c->pairs_cap);; i = (i + 1) & (c->pairs_cap - 1)) {
        if (!c->pairs[i]) return 0;
        if ((uint32_t)c->pairs[i] == k) return 1;
    }
}

static int pair_add(Core *c, uint32_t k) {
    if ((c->npairs + 1) * 2 > c->pairs_cap) {          /* at most half full */
        size_t cap = c->pairs_cap ? c->pairs_cap * 2 : 64;
        uint64_t *t = PyMem_Calloc(cap, sizeof(uint64_t));
        if (t == NULL) { PyErr_NoMemory(); return -1; }
        for (size_t i = 0; i < c->pairs_cap; i++) {
            if (!c->pairs[i]) continue;
            size_t j = pair_slot((uint32_t)c->pairs[i], cap);
            while (t[j]) j = (j + 1) & (cap - 1);
            t[j] = c->pairs[i];
        }
        PyMem_Free(c->pairs);
        c->pairs = t;
        c->pairs_cap = cap;
    }
    if (pair_in(c, k)) return 0;
    size_t i = pair_slot(k, c->pairs_cap);
    while (c->pairs[i]) i = (i + 1) & (c->pairs_cap - 1);
    c->pairs[i] = (uint64_t)k | (1ull << 32);
    c->npairs++;
    return 0;
}

/* packet.py _irrelevant: a plain IPv4 TCP segment that cannot matter */
static int irrelevant(const Core *c, int lt, const unsigned char *b, Py_ssize_t n) {
    Py_ssize_t off;
    if (lt == 1) {
        if (n < 14 || b[12] != 0x08 || b[13] != 0x00) return 0;
        off = 14;
    } else if (lt == 101 || lt == 12 || lt == 14) {
        off = 0;
    } else {
        return 0;
    }
    if (n < off + 40 || b[off] >> 4 != 4 || b[off + 9] != 6) return 0;
    if ((b[off + 6] & 0x3F) || b[off + 7]) return 0;
    Py_ssize_t ihl = (b[off] & 0x0F) * 4, t = off + ihl;
    if (ihl < 20 || n < t + 20) return 0;
    unsigned sp = be16(b + t), dp = be16(b + t + 2);
    if (c->ports[sp >> 3] & (1 << (sp & 7)) || c->ports[dp >> 3] & (1 << (dp & 7))) return 0;
    if (c->npairs && pair_in(c, (uint32_t)sp << 16 | dp)) return 0;
    if (b[t + 13] & SYN) return 0;
    Py_ssize_t q = t + (b[t + 12] >> 4) * 4;
    if (q + 4 > n) return 1;
    uint32_t w = be32(b + q);
    for (int i = 0; i < c->nwords; i++)
        if (c->words[i] == w) return 0;
    return 1;
}

static PyObject *addr_text(Core *c, const uint8_t *a, int v6) {
    if (v6) return PyObject_CallFunction(c->fmt_ip6, "y#", (const char *)a, (Py_ssize_t)16);
    uint32_t k = be32(a);
    unsigned h = (k * 2654435761u) >> 22;
    if (c->ip4cache[h] != NULL && c->ip4keys[h] == k) return Py_NewRef(c->ip4cache[h]);
    PyObject *s = PyUnicode_FromFormat("%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    if (s == NULL) return NULL;
    Py_XSETREF(c->ip4cache[h], Py_NewRef(s));
    c->ip4keys[h] = k;
    return s;
}

static PyObject *make_segment(Core *c, const Parsed *p, double ts) {
    PyObject *o = new_instance(c->seg_cls);
    if (o == NULL) return NULL;
    Py_ssize_t *f = c->seg_off;
    if (set_slot(o, f[0], PyFloat_FromDouble(ts)) ||
        set_slot(o, f[1], addr_text(c, p->src, p->v6)) ||
        set_slot(o, f[2], PyLong_FromLong(p->sport)) ||
        set_slot(o, f[3], addr_text(c, p->dst, p->v6)) ||
        set_slot(o, f[4], PyLong_FromLong(p->dport)) ||
        set_slot(o, f[5], PyLong_FromUnsignedLong(p->seq)) ||
        set_slot(o, f[6], PyLong_FromUnsignedLong(p->ack)) ||
        set_slot(o, f[7], PyLong_FromLong(p->flags)) ||
        set_slot(o, f[8], PyBytes_FromStringAndSize((const char *)p->payload, p->plen)) ||
        set_slot(o, f[9], PyLong_FromLongLong(c->frame)) ||
        set_slot(o, f[10], PyLong_FromSsize_t(p->missing))) {
        Py_DECREF(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------ adopted flows */

static size_t flow_hash(int v6, const uint8_t *a, unsigned ap, const uint8_t *b, unsigned bp) {
    /* symmetric: both directions of a connection hash alike */
    int n = v6 ? 16 : 4;
    uint64_t x = 1469598103934665603ull, y = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        x = (x ^ a[i]) * 1099511628211ull;
        y = (y ^ b[i]) * 1099511628211ull;
    }
    x ^= ap * 0x9E3779B97F4A7C15ull;
    y ^= bp * 0x9E3779B97F4A7C15ull;
    return (size_t)((x + y) ^ ((x ^ y) >> 29) * 31);
}

static Flow **find_slot(Core *c, const Parsed *p, int *dir) {
    int n = p->v6 ? 16 : 4;
    size_t h = flow_hash(p->v6, p->src, p->sport, p->dst, p->dport) & (c->tsize - 1);
    for (Flow **fp = &c->table[h]; *fp; fp = &(*fp)->next) {
        Flow *f = *fp;
        if (f->v6 != p->v6) continue;
        if (f->cp == p->sport && f->sp == p->dport && !memcmp(f->ca, p->src, n) &&
            !memcmp(f->sa, p->dst, n)) { *dir = 0; return fp; }
        if (f->sp == p->sport && f->cp == p->dport && !memcmp(f->sa, p->src, n) &&
            !memcmp(f->ca, p->dst, n)) { *dir = 1; return fp; }
    }
    return NULL;
}

static void half_clear(Half *h) {
    PyMem_Free(h->buf);
    h->buf = NULL;
    h->buf_len = h->buf_cap = 0;
    Py_CLEAR(h->cmd);
    Py_CLEAR(h->parts);
}

static void flow_free(Flow *f) {
    half_clear(&f->h[0]);
    half_clear(&f->h[1]);
    PyMem_Free(f);
}

static int grow_table(Core *c) {
    size_t ns = c->tsize * 2;
    Flow **t = PyMem_Calloc(ns, sizeof(Flow *));
    if (t == NULL) { PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < c->tsize; i++) {
        Flow *f = c->table[i];
        while (f) {
            Flow *nx = f->next;
            size_t h = flow_hash(f->v6, f->ca, f->cp, f->sa, f->sp) & (ns - 1);
            f->next = t[h];
            t[h] = f;
            f = nx;
        }
    }
    PyMem_Free(c->table);
    c->table = t;
    c->tsize = ns;
    return 0;
}

/* ------------------------------------------------------------------ framing */

static int buf_put(unsigned char **buf, Py_ssize_t *len, Py_ssize_t *cap,
                   const unsigned char *p, Py_ssize_t n) {
    if (*len + n > *cap) {
        Py_ssize_t nc = *cap ? *cap : 256;
        while (nc < *len + n) nc *= 2;
        unsigned char *b = PyMem_Realloc(*buf, nc);
        if (b == NULL) { PyErr_NoMemory(); return -1; }
        *buf = b;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* The declared payload length of a line, as framing.py `_command` reads it:
   -1 no payload, -2 a line the core leaves to Python, else the length. */
static int64_t line_payload(const Core *c, const unsigned char *l, Py_ssize_t n, int code) {
    int min = c->min_args[code];
    if (!min || n <= 3) return -1;
    Py_ssize_t nparams = 1, last = 4;
    for (Py_ssize_t i = 4; i < n; i++)
        if (l[i] == ' ') { nparams++; last = i + 1; }
    if (nparams < min) return -1;
    Py_ssize_t k = n - last;
    if (k == 0) return -1;
    int digits = 1;
    for (Py_ssize_t i = last; i < n; i++) {
        if (l[i] >= 0x80) return -2;        /* Unicode digits or damage: Python says */
        if (l[i] < '0' || l[i] > '9') digits = 0;
    }
    if (!digits) return -1;
    int64_t v = 0;
    if (k > 18) return (int64_t)999999999999999999ll;
    for (Py_ssize_t i = last; i < n; i++) v = v * 10 + (l[i] - '0');
    return v;
}

/* Can the core frame these bytes exactly as framing.py would?  Looks, changes nothing. */
static int can_frame(Core *c, const Half *h, const unsigned char *d, Py_ssize_t n) {
    Py_ssize_t pos = 0, partial = h->state == LINE ? h->buf_len : 0;
    int st = h->state;
    int64_t need = h->need, lines = h->lines;
    while (pos < n) {
        if (st == PAYLOAD) {
            Py_ssize_t k = need < n - pos ? (Py_ssize_t)need : n - pos;
            pos += k;
            need -= k;
            if (need == 0) st = LINE;
            continue;
        }
        const unsigned char *e = memchr(d + pos, '\n', n - pos);
        if (e == NULL) return partial + (n - pos) <= c->max_line;
        Py_ssize_t i = e - d;
        Py_ssize_t raw = partial + (i - pos + 1);
        if (raw >= c->max_line + 2) return 0;
        /* the line without its line end, which may begin in the partial buffer */
        const unsigned char *l;
        Py_ssize_t ln = raw - 1;
        if (partial) {
            if (c->scratch_cap < raw) return 0;     /* (sized at max_line + 2) */
            memcpy(c->scratch, h->buf, partial);
            memcpy(c->scratch + partial, d + pos, i - pos + 1);
            l = c->scratch;
        } else {
            l = d + pos;
        }
        if (ln && l[ln - 1] == '\r') ln--;
        if (ln < 3) return 0;
        int code = verb_code(l);
        if (code < 0 || (ln > 3 && l[3] != ' ')) return 0;
        if (lines == 0 && ln >= 10 && !memcmp(l, "VER MSNFTP", 10) && (ln == 10 || l[10] == ' '))
            return 0;                                 /* MSNFTP: Python's */
        int64_t pl = line_payload(c, l, ln, code);
        if (pl == -2 || pl > c->max_payload) return 0;
        lines++;
        pos = i + 1;
        partial = 0;
        if (pl > 0) { st = PAYLOAD; need = pl; }
    }
    return 1;
}

static PyObject *split_params(const unsigned char *l, Py_ssize_t n, const char *errors) {
    PyObject *list = PyList_New(0);
    if (list == NULL || n <= 3) return list;
    Py_ssize_t s = 4;
    for (Py_ssize_t i = 4; i <= n; i++) {
        if (i < n && l[i] != ' ') continue;
        PyObject *p = PyUnicode_DecodeUTF8((const char *)l + s, i - s, errors);
        if (p == NULL) { Py_DECREF(list); return NULL; }
        int r = PyList_Append(list, p);
        Py_DECREF(p);
        if (r < 0) { Py_DECREF(list); return NULL; }
        s = i + 1;
    }
    return list;
}

static PyObject *params_of(const unsigned char *l, Py_ssize_t n, int *bad) {
    /* line[4:].decode("utf-8").split(" "); a line that is not UTF-8 has each part
       decoded with backslashreplace (framing.py): the space cannot be inside a UTF-8
       sequence, so splitting first gives the same parts */
    PyObject *list = split_params(l, n, NULL);
    if (list == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        *bad = 1;
        list = split_params(l, n, "backslashreplace");
    }
    return list;
}

static PyObject *trid_of(const Core *c, int code, const unsigned char *l, Py_ssize_t n,
                         Py_ssize_t nparams, const unsigned char *second, Py_ssize_t second_n) {
    /* protocol/tables.py trid_of on the raw line */
    if (n <= 3 || c->no_trid[code]) Py_RETURN_NONE;
    Py_ssize_t k = 0;
    while (4 + k < n && l[4 + k] != ' ') k++;
    if (k < 1 || k > 10) Py_RETURN_NONE;
    long long v = 0;
    for (Py_ssize_t i = 0; i < k; i++) {
        unsigned char ch = l[4 + i];
        if (ch < '0' || ch > '9') Py_RETURN_NONE;
        v = v * 10 + (ch - '0');
    }
    if (code == ((('L' - 'A') * 26 + ('S' - 'A')) * 26 + ('G' - 'A')) && (nparams == 2 || nparams == 3))
        Py_RETURN_NONE;
    if (code == ((('M' - 'A') * 26 + ('S' - 'A')) * 26 + ('G' - 'A')) && nparams == 3 &&
        !(second_n == 1 && (second[0] == 'U' || second[0] == 'N' || second[0] == 'A' || second[0] == 'D')))
        Py_RETURN_NONE;
    return PyLong_FromLongLong(v);
}

/* a RawCommand for one line (l, ln: without its line end; raw: with it) */
static PyObject *command(Core *c, const unsigned char *l, Py_ssize_t ln, Py_ssize_t raw,
                         int64_t off, PyObject *ts, int64_t *declared) {
    int code = verb_code(l);
    PyObject *verb = c->verbs[code];
    if (verb == NULL) {
        verb = PyUnicode_FromStringAndSize((const char *)l, 3);
        if (verb == NULL) return NULL;
        PyUnicode_InternInPlace(&verb);
        c->verbs[code] = verb;
    }
    int bad = 0;
    PyObject *params = params_of(l, ln, &bad);
    if (params == NULL) return NULL;
    Py_ssize_t np = PyList_GET_SIZE(params);
    const unsigned char *second = NULL;
    Py_ssize_t second_n = 0;
    if (np >= 2) {
        Py_ssize_t i = 4;
        while (l[i] != ' ') i++;
        second = l + i + 1;
        while (second + second_n < l + ln && second[second_n] != ' ') second_n++;
    }
    PyObject *o = new_instance(c->cmd_cls);
    if (o == NULL) { Py_DECREF(params); return NULL; }
    int64_t pl = line_payload(c, l, ln, code);
    *declared = pl;
    Py_ssize_t *f = c->cmd_off;
    if (set_slot(o, f[C_VERB], Py_NewRef(verb)) ||
        set_slot(o, f[C_TRID], trid_of(c, code, l, ln, np, second, second_n)) ||
        set_slot(o, f[C_PARAMS], params) ||
        set_slot(o, f[C_PAYLOAD], pl == 0 ? PyBytes_FromStringAndSize("", 0) : Py_NewRef(Py_None)) ||
        set_slot(o, f[C_OFFSET], PyLong_FromLongLong(off)) ||
        set_slot(o, f[C_LENGTH], PyLong_FromSsize_t(raw)) ||
        set_slot(o, f[C_DECLARED], pl >= 0 ? PyLong_FromLongLong(pl) : Py_NewRef(Py_None)) ||
        set_slot(o, f[C_MISSING], PyLong_FromLong(0)) ||
        set_slot(o, f[C_BADUTF8], PyBool_FromLong(bad)) ||
        set_slot(o, f[C_TS], Py_NewRef(ts))) {
        Py_DECREF(o);
        return NULL;
    }
    return o;
}

static int add_length(Core *c, PyObject *cmd, Py_ssize_t n) {
    PyObject **slot = (PyObject **)((char *)cmd + c->cmd_off[C_LENGTH]);
    Py_ssize_t v = PyLong_AsSsize_t(*slot);
    if (v == -1 && PyErr_Occurred()) return -1;
    return set_slot(cmd, c->cmd_off[C_LENGTH], PyLong_FromSsize_t(v + n));
}

/* Frame bytes can_frame accepted; appends finished commands to *out (created lazily). */
static int frame(Core *c, Half *h, const unsigned char *d, Py_ssize_t n, PyObject *ts,
                 PyObject **out) {
    Py_ssize_t pos = 0;
    h->fed += n;
    while (pos < n) {
        if (h->state == PAYLOAD) {
            Py_ssize_t k = h->need < n - pos ? (Py_ssize_t)h->need : n - pos;
            PyObject *chunk = PyBytes_FromStringAndSize((const char *)d + pos, k);
            if (chunk == NULL) return -1;
            pos += k;
            h->need -= k;
            h->base += k;
            h->decoded += k;
            if (h->need) {
                int r = PyList_Append(h->parts, chunk);
                Py_DECREF(chunk);
                if (r < 0) return -1;
                continue;
            }
            PyObject *payload;
            if (PyList_GET_SIZE(h->parts) == 0) {
                payload = chunk;
            } else {
                int r = PyList_Append(h->parts, chunk);
                Py_DECREF(chunk);
                if (r < 0) return -1;
                PyObject *empty = PyBytes_FromStringAndSize("", 0);
                if (empty == NULL) return -1;
                payload = PyObject_CallMethod(empty, "join", "O", h->parts);
                Py_DECREF(empty);
                if (payload == NULL) return -1;
            }
            Py_ssize_t pn = PyBytes_GET_SIZE(payload);
            if (set_slot(h->cmd, c->cmd_off[C_PAYLOAD], payload) || add_length(c, h->cmd, pn))
                return -1;
            if (*out == NULL && (*out = PyList_New(0)) == NULL) return -1;
            if (PyList_Append(*out, h->cmd) < 0) return -1;
            Py_CLEAR(h->cmd);
            Py_CLEAR(h->parts);
            h->state = LINE;
            continue;
        }
        const unsigned char *e = memchr(d + pos, '\n', n - pos);
        if (e == NULL) {
            if (buf_put(&h->buf, &h->buf_len, &h->buf_cap, d + pos, n - pos)) return -1;
            return 0;
        }
        Py_ssize_t i = e - d;
        const unsigned char *l;
        Py_ssize_t raw;
        if (h->buf_len) {
            if (buf_put(&h->buf, &h->buf_len, &h->buf_cap, d + pos, i - pos + 1)) return -1;
            l = h->buf;
            raw = h->buf_len;
        } else {
            l = d + pos;
            raw = i - pos + 1;
        }
        Py_ssize_t ln = raw - 1;
        if (ln && l[ln - 1] == '\r') ln--;
        int64_t off = h->base, pl;
        PyObject *cmd = command(c, l, ln, raw, off, ts, &pl);
        if (cmd == NULL) return -1;
        h->buf_len = 0;
        h->base += raw;
        h->lines++;
        h->decoded += raw;
        pos = i + 1;
        if (pl > 0) {
            if (n - pos >= pl) {
                if (set_slot(cmd, c->cmd_off[C_PAYLOAD],
                             PyBytes_FromStringAndSize((const char *)d + pos, (Py_ssize_t)pl)) ||
                    add_length(c, cmd, (Py_ssize_t)pl)) {
                    Py_DECREF(cmd);
                    return -1;
                }
                pos += pl;
                h->base += pl;
                h->decoded += pl;
            } else {
                if ((h->parts = PyList_New(0)) == NULL) { Py_DECREF(cmd); return -1; }
                h->state = PAYLOAD;
                h->need = pl;
                h->cmd = cmd;
                continue;
            }
        }
        if (*out == NULL && (*out = PyList_New(0)) == NULL) { Py_DECREF(cmd); return -1; }
        int r = PyList_Append(*out, cmd);
        Py_DECREF(cmd);
        if (r < 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ release / adopt */

static PyObject *half_state(Half *h) {
    PyObject *seq = h->next_seq < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(h->next_seq);
    if (seq == NULL) return NULL;
    PyObject *parts = h->parts ? Py_NewRef(h->parts) : PyList_New(0);
    if (parts == NULL) { Py_DECREF(seq); return NULL; }
    return Py_BuildValue("(NLLLLy#iOLNLLL)", seq, (long long)h->offset, (long long)h->delivered,
                         (long long)h->segments, (long long)h->base, h->buf ? (const char *)h->buf : "",
                         h->buf_len, h->state, h->cmd ? h->cmd : Py_None, (long long)h->need,
                         parts, (long long)h->lines, (long long)h->decoded, (long long)h->fed);
}

static PyObject *flow_release(Core *c, Flow **fp) {
    Flow *f = *fp;
    PyObject *s0 = half_state(&f->h[0]);
    if (s0 == NULL) return NULL;
    PyObject *s1 = half_state(&f->h[1]);
    if (s1 == NULL) { Py_DECREF(s0); return NULL; }
    *fp = f->next;
    c->nflows--;
    flow_free(f);
    return Py_BuildValue("(NN)", s0, s1);
}

static int half_set(Core *c, Half *h, PyObject *st) {
    PyObject *seq, *cmd, *parts;
    const char *buf;
    Py_ssize_t blen;
    long long offset, delivered, segments, base, need, lines, decoded, fed;
    int state;
    if (!PyArg_ParseTuple(st, "OLLLLy#iOLO!LLL", &seq, &offset, &delivered, &segments, &base,
                          &buf, &blen, &state, &cmd, &need, &PyList_Type, &parts, &lines,
                          &decoded, &fed))
        return -1;
    if (state != LINE && state != PAYLOAD) {
        PyErr_SetString(PyExc_ValueError, "the core frames lines and payloads only");
        return -1;
    }
    if (seq == Py_None) {
        h->next_seq = -1;
    } else {
        h->next_seq = PyLong_AsLongLong(seq);
        if (h->next_seq == -1 && PyErr_Occurred()) return -1;
        if (h->next_seq < 0 || h->next_seq > 0xFFFFFFFFll) {
            PyErr_SetString(PyExc_ValueError, "sequence number out of range");
            return -1;
        }
    }
    h->offset = offset; h->delivered = delivered; h->segments = segments; h->base = base;
    h->state = state; h->need = need; h->lines = lines; h->decoded = decoded; h->fed = fed;
    h->buf_len = 0;
    if (blen && buf_put(&h->buf, &h->buf_len, &h->buf_cap, (const unsigned char *)buf, blen))
        return -1;
    if (state == PAYLOAD) {
        /* (the framer writes the command's slots by offset: it must be a RawCommand) */
        if (!Py_IS_TYPE(cmd, c->cmd_cls) || need <= 0) {
            PyErr_SetString(PyExc_ValueError, "a payload state needs its RawCommand");
            return -1;
        }
        h->cmd = Py_NewRef(cmd);
        h->parts = PyList_GetSlice(parts, 0, PyList_GET_SIZE(parts));
        if (h->parts == NULL) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ one packet */

/* The item for a parsed packet (NULL with no error: nothing, which cannot happen here) */
static PyObject *packet_item(Core *c, const Parsed *p, double ts) {
    int dir;
    Flow **fp = find_slot(c, p, &dir);
    if (fp == NULL) return make_segment(c, p, ts);
    Flow *f = *fp;
    Half *h = &f->h[dir];
    int plain = !(p->flags & (FIN | SYN | RST)) && !p->missing;
    if (plain && p->plen && h->next_seq >= 0 && h->next_seq != (int64_t)p->seq) plain = 0;
    if (plain && p->plen && !can_frame(c, h, p->payload, p->plen)) plain = 0;
    if (!plain) {
        long cid = f->cid;
        /* (the Segment first: an error after the release would lose the connection) */
        PyObject *seg = make_segment(c, p, ts);
        if (seg == NULL) return NULL;
        fp = find_slot(c, p, &dir);     /* (making it may have run other code: look again) */
        if (fp == NULL) return seg;
        PyObject *state = flow_release(c, fp);
        if (state == NULL) { Py_DECREF(seg); return NULL; }
        return Py_BuildValue("(lNN)", cid, state, seg);
    }
    h->segments++;
    if (h->next_seq < 0) h->next_seq = p->seq;
    PyObject *tso = PyFloat_FromDouble(ts);
    if (tso == NULL) return NULL;
    PyObject *cmds = NULL;
    if (p->plen) {
        h->offset += p->plen;
        h->delivered += p->plen;
        h->next_seq = (h->next_seq + p->plen) & 0xFFFFFFFFll;
        if (frame(c, h, p->payload, p->plen, tso, &cmds) < 0) {
            Py_DECREF(tso);
            Py_XDECREF(cmds);
            return NULL;
        }
    }
    return Py_BuildValue("(liNN)", f->cid, dir, tso, cmds ? cmds : Py_NewRef(Py_None));
}

/* ------------------------------------------------------------------ records */

static double pcapng_ts(Core *c, const Iface *ifc, uint64_t ticks, int *err) {
    double ts;
    *err = 0;
    if (ifc->slow) {
        PyObject *r = PyObject_CallFunction(c->ts_slow, "KdL", (unsigned long long)ticks,
                                            ifc->unit, (long long)ifc->tsoffset);
        if (r == NULL) { *err = 1; return 0; }
        ts = PyFloat_AsDouble(r);
        Py_DECREF(r);
        if (ts == -1.0 && PyErr_Occurred()) { *err = 1; return 0; }
    } else if (ifc->scale) {
        uint64_t sec = ticks / (uint64_t)ifc->scale, rest = ticks % (uint64_t)ifc->scale;
        /* (rest * 1000000 // scale): rest < scale < 9.2e12, so no overflow */
        ts = (double)sec + (double)(rest * 1000000u / (uint64_t)ifc->scale) * 1e-6;
    } else {
        ts = (double)ticks * ifc->unit;
    }
    if (!ifc->slow) ts += (double)ifc->tsoffset;
    if (ts > MAX_TS || ts < 0) { c->bad_times++; ts = MAX_TS; }
    return ts;
}

static int add_iface(Core *c, const unsigned char *body, Py_ssize_t n) {
    Iface ifc = {rd16(c, body), 1e-6, 0, 0, 0};
    Py_ssize_t opt = 8;
    while (opt + 4 <= n) {
        unsigned code = rd16(c, body + opt), olen = rd16(c, body + opt + 2);
        if (code == 0) break;
        if (code == 9 && olen >= 1 && opt + 4 < n) {
            unsigned v = body[opt + 4];
            ifc.unit = v & 0x80 ? pow(2.0, -(double)(v & 0x7F)) : pow(10.0, -(double)v);
        } else if (code == 14 && olen == 8 && opt + 12 <= n) {
            uint64_t lo = rd32(c, body + opt + 4), hi = rd32(c, body + opt + 8);
            ifc.tsoffset = (int64_t)(c->big ? (lo << 32 | hi) : (hi << 32 | lo));
        }
        opt += 4 + ((olen + 3) & ~3u);
    }
    if (ifc.unit < 1e-6) {
        double inv = 1.0 / ifc.unit;
        if (inv < 9.2e12) ifc.scale = (int64_t)nearbyint(inv);
        else ifc.slow = 1;
    }
    if (c->nifaces == c->ifcap) {
        Py_ssize_t cap = c->ifcap ? c->ifcap * 2 : 4;
        Iface *a = PyMem_Realloc(c->ifaces, cap * sizeof(Iface));
        if (a == NULL) { PyErr_NoMemory(); return -1; }
        c->ifaces = a;
        c->ifcap = cap;
    }
    c->ifaces[c->nifaces++] = ifc;
    return 0;
}

static void set_position(Core *c) {
    if (c->stats == NULL) return;
    PyObject *v = PyLong_FromLongLong(c->offset);
    if (v == NULL || PyObject_SetAttrString(c->stats, "position", v) < 0) PyErr_Clear();
    Py_XDECREF(v);
}

/* one frame's data: skipped, dropped, or an item.  *item stays NULL for nothing. */
static int one_frame(Core *c, int lt, const unsigned char *data, Py_ssize_t n, double ts,
                     int check, PyObject **item) {
    Parsed p;
#ifdef CORE_EXACT_BUFFERS
    /* the sanitized build (fuzz/fuzz_core.py --asan): each record in an allocation of its
       own size, so that reading past its end is an error ASan reports */
    unsigned char *copy = PyMem_Malloc(n ? n : 1);
    if (copy == NULL) { PyErr_NoMemory(); return -1; }
    memcpy(copy, data, n);
    data = copy;
#endif
    int r = 0;
    if (check && irrelevant(c, lt, data, n)) c->skipped++;
    else if ((r = parse(c, lt, data, n, &p)) == 1) {
        *item = packet_item(c, &p, ts);
        r = *item == NULL ? -1 : 0;
    }
#ifdef CORE_EXACT_BUFFERS
    PyMem_Free(copy);
#endif
    return r;
}

static PyObject *next_pcap(Core *c) {
    for (;;) {
        Py_ssize_t got = want(c, 16);
        if (got < 0) return NULL;
        if (got == 0) return NULL;
        if (got < 16) {
            take(c, got);
            truncated(c, PyUnicode_FromFormat("file ends inside the header of record %lld (byte %lld)",
                                              (long long)c->frame + 1, (long long)c->offset));
            return NULL;
        }
        const unsigned char *h = take(c, 16);
        uint32_t sec = rd32(c, h), frac = rd32(c, h + 4), incl = rd32(c, h + 8);
        if (incl > MAX_RECORD) {
            truncated(c, PyUnicode_FromFormat("record %lld claims %u bytes (damaged length field); "
                                              "reading stopped at byte %lld",
                                              (long long)c->frame + 1, incl, (long long)c->offset - 16));
            return NULL;
        }
        got = want(c, incl);
        if (got < 0) return NULL;
        const unsigned char *data = take(c, got);
        c->frame++;
        c->packets++;
        c->bytes += got;
        if (!(c->frame & 1023)) set_position(c);
        double ts = (double)sec + (double)frac * c->unit;
        PyObject *item = NULL;
        if ((uint32_t)got < incl) {
            truncated(c, PyUnicode_FromFormat("file ends inside record %lld (%zd of %u bytes present)",
                                              (long long)c->frame, got, incl));
            c->ended = 1;
            if (one_frame(c, c->lt, data, got, ts, 0, &item) < 0) return NULL;
            return item;
        }
        if (one_frame(c, c->lt, data, got, ts, 1, &item) < 0) return NULL;
        if (item) return item;
    }
}

static PyObject *next_pcapng(Core *c) {
    for (;;) {
        Py_ssize_t got = want(c, 8);
        if (got < 0) return NULL;
        if (got == 0) return NULL;
        if (got < 8) {
            take(c, got);
            truncated(c, PyUnicode_FromFormat("file ends inside a block header (byte %lld)",
                                              (long long)c->offset));
            return NULL;
        }
        const unsigned char *head = c->buf + c->pos;
        uint32_t btype, blen;
        Py_ssize_t body_want;
        if (!memcmp(head, "\x0a\x0d\x0d\x0a", 4)) {
            got = want(c, 12);
            if (got < 0) return NULL;
            if (got < 12) {
                take(c, got);
                truncated(c, PyUnicode_FromFormat("file ends inside a section header"));
                return NULL;
            }
            head = c->buf + c->pos;
            c->big = !(head[8] == 0x4d && head[9] == 0x3c && head[10] == 0x2b && head[11] == 0x1a);
            c->nifaces = 0;
            btype = rd32(c, head);
            blen = rd32(c, head + 4);
            take(c, 12);
            if (blen < 28 || blen % 4 || blen > MAX_BLOCK) {
                truncated(c, PyUnicode_FromFormat("section header at byte %lld has an impossible "
                                                  "length %u; reading stopped",
                                                  (long long)c->offset - 12, blen));
                return NULL;
            }
            body_want = (Py_ssize_t)blen - 12;
        } else {
            btype = rd32(c, head);
            blen = rd32(c, head + 4);
            take(c, 8);
            if (blen < 12 || blen % 4 || blen > MAX_BLOCK) {
                truncated(c, PyUnicode_FromFormat("block at byte %lld has an impossible length "
                                                  "%u; reading stopped", (long long)c->offset - 8, blen));
                return NULL;
            }
            body_want = (Py_ssize_t)blen - 8;
        }
        got = want(c, body_want);
        if (got < 0) return NULL;
        const unsigned char *body = take(c, got);
        /* a section header's body, for the length checks, counts the 4 bytes of its magic */
        Py_ssize_t blen_present = (btype == 0x0A0D0D0A ? got + 4 : got);
        if (!(c->frame & 1023)) set_position(c);
        if (blen_present < (Py_ssize_t)blen - 8) {
            truncated(c, PyUnicode_FromFormat("file ends inside a block (%zd of %u bytes present)",
                                              blen_present + 8, blen));
            if (btype == 6 && blen_present >= 20) { c->frame++; c->packets++; }
            return NULL;
        }
        Py_ssize_t n = blen_present - 4;       /* without the trailing length */
        if (btype == 0x0A0D0D0A) continue;
        if (btype == 1 && n >= 8) {
            if (add_iface(c, body, n) < 0) return NULL;
        } else if ((btype == 6 || btype == 2) && n >= 20) {
            uint32_t iface, hi, lo, cap;
            if (btype == 6) {
                iface = rd32(c, body); hi = rd32(c, body + 4); lo = rd32(c, body + 8);
                cap = rd32(c, body + 12);
            } else {
                iface = rd16(c, body); hi = rd32(c, body + 4); lo = rd32(c, body + 8);
                cap = rd32(c, body + 12);
            }
            c->frame++;
            c->packets++;
            Py_ssize_t dn = (uint64_t)(n - 20) < (uint64_t)cap ? n - 20 : (Py_ssize_t)cap;
            c->bytes += dn;
            if (iface >= (uint32_t)c->nifaces) { c->bad_headers++; continue; }
            const Iface *ifc = &c->ifaces[iface];
            int err;
            double ts = pcapng_ts(c, ifc, (uint64_t)hi << 32 | lo, &err);
            if (err) return NULL;
            PyObject *item = NULL;
            if (one_frame(c, ifc->lt, body + 20, dn, ts, 1, &item) < 0) return NULL;
            if (item) return item;
        } else if (btype == 3 && n >= 4) {
            c->frame++;
            c->packets++;
            c->bytes += n - 4;
            if (!c->nifaces) { c->bad_headers++; continue; }
            PyObject *item = NULL;
            if (one_frame(c, c->ifaces[0].lt, body + 4, n - 4, 0.0, 1, &item) < 0) return NULL;
            if (item) return item;
        }
    }
}

static PyObject *Core_iternext(Core *c) {
    if (!c->ready) return PyErr_Format(PyExc_RuntimeError, "Core is not initialised");
    if (c->ended) return NULL;
    PyObject *item = c->kind == 0 ? next_pcap(c) : next_pcapng(c);
    if (item == NULL && !PyErr_Occurred()) {
        c->ended = 1;
        set_position(c);
    }
    return item;
}

/* ------------------------------------------------------------------ the type */

static int Core_init(Core *c, PyObject *args, PyObject *kw) {
    static char *names[] = {"fd", "stats", "segment", "command", "fmt_ip6", "ts_slow",
                            "max_line", "max_payload", "min_args", "no_trid", "first_words", NULL};
    int fd;
    PyObject *stats, *seg, *cmd, *fmt6, *slow, *min_args, *no_trid, *words;
    Py_ssize_t max_line, max_payload;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iOO!O!OOnnO!OO", names, &fd, &stats,
                                     &PyType_Type, &seg, &PyType_Type, &cmd, &fmt6, &slow,
                                     &max_line, &max_payload, &PyDict_Type, &min_args,
                                     &no_trid, &words))
        return -1;
    if (c->seg_cls != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Core is initialised once");
        return -1;
    }
    if (max_line < 0 || max_line > (1 << 30) || max_payload < 0) {
        PyErr_SetString(PyExc_ValueError, "bad limits");
        return -1;
    }
    c->fd = fd;
    c->seg_cls = (PyTypeObject *)Py_NewRef(seg);
    c->cmd_cls = (PyTypeObject *)Py_NewRef(cmd);
    c->fmt_ip6 = Py_NewRef(fmt6);
    c->ts_slow = Py_NewRef(slow);
    c->stats = Py_NewRef(stats);
    c->max_line = max_line;
    c->max_payload = max_payload;
    if (slot_offsets(c->seg_cls, SEG_SLOTS, NSEG, c->seg_off) ||
        slot_offsets(c->cmd_cls, CMD_SLOTS, NCMD, c->cmd_off))
        return -1;
    PyObject *k, *v;
    Py_ssize_t i = 0;
    while (PyDict_Next(min_args, &i, &k, &v)) {
        Py_ssize_t kn;
        const char *ks = PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, &kn) : NULL;
        if (ks == NULL || kn != 3 || verb_code((const unsigned char *)ks) < 0) {
            PyErr_SetString(PyExc_ValueError, "min_args keys are verbs");
            return -1;
        }
        long m = PyLong_AsLong(v);
        if (m < 0 || m > 100) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "min_args values are small");
            return -1;
        }
        c->min_args[verb_code((const unsigned char *)ks)] = (int8_t)m;
    }
    PyObject *it = PyObject_GetIter(no_trid);
    if (it == NULL) return -1;
    while ((k = PyIter_Next(it)) != NULL) {
        Py_ssize_t kn;
        const char *ks = PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, &kn) : NULL;
        int code = ks && kn == 3 ? verb_code((const unsigned char *)ks) : -1;
        Py_DECREF(k);
        if (code < 0) {
            Py_DECREF(it);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "no_trid holds verbs");
            return -1;
        }
        c->no_trid[code] = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return -1;
    it = PyObject_GetIter(words);
    if (it == NULL) return -1;
    while ((k = PyIter_Next(it)) != NULL) {
        if (!PyBytes_Check(k) || PyBytes_GET_SIZE(k) != 4 || c->nwords == 16) {
            Py_DECREF(k);
            Py_DECREF(it);
            PyErr_SetString(PyExc_ValueError, "first words are at most 16 4-byte strings");
            return -1;
        }
        c->words[c->nwords++] = be32((const unsigned char *)PyBytes_AS_STRING(k));
        Py_DECREF(k);
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return -1;
    c->scratch_cap = max_line + 2;
    c->scratch = PyMem_Malloc(c->scratch_cap);
    c->tsize = 1024;
    c->table = PyMem_Calloc(c->tsize, sizeof(Flow *));
    c->cap = 1 << 20;
    c->buf = PyMem_Malloc(c->cap);
    if (c->scratch == NULL || c->table == NULL || c->buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* the file header: pcap's 24 bytes, or pcapng's first block read as blocks */
    Py_ssize_t got = want(c, 4);
    if (got < 0) return -1;
    if (got < 4) {
        PyErr_SetString(PyExc_ValueError, "not a capture file");
        return -1;
    }
    const unsigned char *m = c->buf;
    int ns = 0;
    if (!memcmp(m, "\xd4\xc3\xb2\xa1", 4)) { c->big = 0; }
    else if (!memcmp(m, "\xa1\xb2\xc3\xd4", 4)) { c->big = 1; }
    else if (!memcmp(m, "\x4d\x3c\xb2\xa1", 4)) { c->big = 0; ns = 1; }
    else if (!memcmp(m, "\xa1\xb2\x3c\x4d", 4)) { c->big = 1; ns = 1; }
    else if (!memcmp(m, "\x0a\x0d\x0d\x0a", 4)) { c->kind = 1; }
    else {
        PyErr_SetString(PyExc_ValueError, "not a pcap or pcapng capture file");
        return -1;
    }
    const char *format = c->kind ? "pcapng" : ns ? "pcap (ns)" : "pcap";
    PyObject *f = PyUnicode_FromString(format);
    if (f == NULL || PyObject_SetAttrString(stats, "format", f) < 0) { Py_XDECREF(f); return -1; }
    Py_DECREF(f);
    PyObject *r = PyUnicode_FromString("compiled");
    if (r == NULL || PyObject_SetAttrString(stats, "reader", r) < 0) { Py_XDECREF(r); return -1; }
    Py_DECREF(r);
    if (c->kind == 0) {
        c->unit = ns ? 1e-9 : 1e-6;
        take(c, 4);
        got = want(c, 20);
        if (got < 0) return -1;
        if (got < 20) {
            take(c, got);
            truncated(c, PyUnicode_FromString("file ends inside the pcap file header"));
            c->ended = 1;
            c->ready = 1;
            return 0;
        }
        const unsigned char *h = take(c, 20);
        c->lt = (int)(rd32(c, h + 16) & 0x0FFFFFFF);
    }
    c->ready = 1;
    return 0;
}

/* follow(ports, pairs): what can matter since the last call, added to what could before
   (capture/follow.py Follow only ever widens; corepath.py passes what is new) */
static PyObject *Core_follow(Core *c, PyObject *args) {
    PyObject *ports, *pairs, *k;
    if (!c->ready) return PyErr_Format(PyExc_RuntimeError, "Core is not initialised");
    if (!PyArg_ParseTuple(args, "OO", &ports, &pairs)) return NULL;
    PyObject *it = PyObject_GetIter(ports);
    if (it == NULL) return NULL;
    while ((k = PyIter_Next(it)) != NULL) {
        long p = PyLong_AsLong(k);
        Py_DECREF(k);
        if (p >= 0 && p < 65536) c->ports[p >> 3] |= (uint8_t)(1 << (p & 7));
        else if (PyErr_Occurred()) PyErr_Clear();
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    it = PyObject_GetIter(pairs);
    if (it == NULL) return NULL;
    while ((k = PyIter_Next(it)) != NULL) {
        long a, b;
        int ok = PyArg_ParseTuple(k, "ll", &a, &b);
        Py_DECREF(k);
        if (!ok) { Py_DECREF(it); return NULL; }
        if (a < 0 || a > 65535 || b < 0 || b > 65535) continue;
        if (pair_add(c, (uint32_t)a << 16 | (uint32_t)b) < 0) { Py_DECREF(it); return NULL; }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static int parse_addr(PyObject *text, uint8_t *out, int *v6) {
    const char *s = PyUnicode_AsUTF8(text);
    if (s == NULL) return -1;
    if (strchr(s, ':')) {
        *v6 = 1;
        if (inet_pton(AF_INET6, s, out) == 1) return 0;
    } else {
        *v6 = 0;
        if (inet_pton(AF_INET, s, out) == 1) return 0;
    }
    PyErr_Format(PyExc_ValueError, "not an address: %s", s);
    return -1;
}

/* adopt(cid, client_ip, client_port, server_ip, server_port, c2s_state, s2c_state) */
static PyObject *Core_adopt(Core *c, PyObject *args) {
    long cid;
    PyObject *cip, *sip, *s0, *s1;
    int cport, sport;
    if (!c->ready) return PyErr_Format(PyExc_RuntimeError, "Core is not initialised");
    if (!PyArg_ParseTuple(args, "lUiUiO!O!", &cid, &cip, &cport, &sip, &sport, &PyTuple_Type,
                          &s0, &PyTuple_Type, &s1))
        return NULL;
    Flow *f = PyMem_Calloc(1, sizeof(Flow));
    if (f == NULL) return PyErr_NoMemory();
    int v6a, v6b;
    if (parse_addr(cip, f->ca, &v6a) || parse_addr(sip, f->sa, &v6b) ||
        half_set(c, &f->h[0], s0) || half_set(c, &f->h[1], s1)) {
        flow_free(f);
        return NULL;
    }
    if (v6a != v6b || cport < 0 || cport > 65535 || sport < 0 || sport > 65535) {
        flow_free(f);
        PyErr_SetString(PyExc_ValueError, "bad endpoints");
        return NULL;
    }
    f->v6 = (uint8_t)v6a;
    f->cp = (uint16_t)cport;
    f->sp = (uint16_t)sport;
    f->cid = cid;
    Parsed p = {.v6 = f->v6, .src = f->ca, .dst = f->sa, .sport = f->cp, .dport = f->sp};
    int dir;
    if (find_slot(c, &p, &dir) != NULL) {
        flow_free(f);
        PyErr_SetString(PyExc_ValueError, "connection already adopted");
        return NULL;
    }
    if (c->nflows >= c->tsize && grow_table(c) < 0) { flow_free(f); return NULL; }
    size_t h = flow_hash(f->v6, f->ca, f->cp, f->sa, f->sp) & (c->tsize - 1);
    f->next = c->table[h];
    c->table[h] = f;
    c->nflows++;
    Py_RETURN_NONE;
}

/* release(client_ip, client_port, server_ip, server_port) -> (c2s_state, s2c_state), or
   None when the core does not hold that connection (found by its endpoints, as packets
   find it: no scan of the table per eviction) */
static PyObject *Core_release(Core *c, PyObject *args) {
    PyObject *cip, *sip;
    int cport, sport, v6a, v6b;
    uint8_t ca[16], sa[16];
    if (!c->ready) return PyErr_Format(PyExc_RuntimeError, "Core is not initialised");
    if (!PyArg_ParseTuple(args, "UiUi", &cip, &cport, &sip, &sport)) return NULL;
    if (parse_addr(cip, ca, &v6a) || parse_addr(sip, sa, &v6b)) return NULL;
    if (v6a != v6b || cport < 0 || cport > 65535 || sport < 0 || sport > 65535)
        Py_RETURN_NONE;
    Parsed p = {.v6 = (uint8_t)v6a, .src = ca, .dst = sa, .sport = (unsigned)cport,
                .dport = (unsigned)sport};
    int dir;
    Flow **fp = find_slot(c, &p, &dir);
    if (fp == NULL || dir != 0) Py_RETURN_NONE;
    return flow_release(c, fp);
}

static int put(PyObject *stats, const char *name, PyObject *v) {
    if (v == NULL) return -1;
    int r = PyObject_SetAttrString(stats, name, v);
    Py_DECREF(v);
    return r;
}

/* sync(): the counters into the CaptureStats object */
static PyObject *Core_sync(Core *c, PyObject *unused) {
    if (!c->ready) return PyErr_Format(PyExc_RuntimeError, "Core is not initialised");
    PyObject *s = c->stats;
    struct { const char *n; int64_t v; } ints[] = {
        {"packets", c->packets}, {"bytes", c->bytes}, {"tcp_segments", c->tcp_segments},
        {"non_ip", c->non_ip}, {"non_tcp", c->non_tcp}, {"ip_fragments", c->ip_fragments},
        {"snapped", c->snapped}, {"bad_headers", c->bad_headers}, {"skipped", c->skipped},
        {"bad_times", c->bad_times}, {"bad_checksums", c->bad_checksums},
        {"position", c->offset}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (put(s, ints[i].n, PyLong_FromLongLong(ints[i].v)) < 0) return NULL;
    PyObject *links = PyObject_GetAttrString(s, "unsupported_link");
    if (links == NULL) return NULL;
    for (int lt = 0; lt <= 65536; lt++) {
        int64_t n = lt < 65536 ? (c->links ? c->links[lt] : 0) : c->big_lt_count;
        if (!n) continue;
        PyObject *k = PyLong_FromLong(lt < 65536 ? lt : c->big_lt), *v = PyLong_FromLongLong(n);
        int r = k && v ? PyObject_SetItem(links, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (r < 0) { Py_DECREF(links); return NULL; }
    }
    Py_DECREF(links);
    if (c->truncated && put(s, "truncated", Py_NewRef(c->truncated)) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Core_held(Core *c, PyObject *unused) {
    return PyLong_FromSize_t(c->nflows);
}

static void Core_dealloc(Core *c) {
    if (c->table) {
        for (size_t i = 0; i < c->tsize; i++) {
            Flow *f = c->table[i];
            while (f) { Flow *nx = f->next; flow_free(f); f = nx; }
        }
        PyMem_Free(c->table);
    }
    for (int i = 0; i < NVERBS; i++) Py_XDECREF(c->verbs[i]);
    for (int i = 0; i < 1024; i++) Py_XDECREF(c->ip4cache[i]);
    PyMem_Free(c->buf);
    PyMem_Free(c->scratch);
    PyMem_Free(c->ifaces);
    PyMem_Free(c->pairs);
    PyMem_Free(c->links);
    Py_XDECREF(c->truncated);
    Py_XDECREF(c->stats);
    Py_XDECREF(c->seg_cls);
    Py_XDECREF(c->cmd_cls);
    Py_XDECREF(c->fmt_ip6);
    Py_XDECREF(c->ts_slow);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyMethodDef Core_methods[] = {
    {"follow", (PyCFunction)Core_follow, METH_VARARGS, "follow(ports, port_pairs)"},
    {"adopt", (PyCFunction)Core_adopt, METH_VARARGS,
     "adopt(cid, client_ip, client_port, server_ip, server_port, c2s, s2c)"},
    {"release", (PyCFunction)Core_release, METH_VARARGS,
     "release(client_ip, client_port, server_ip, server_port) -> (c2s, s2c) or None"},
    {"sync", (PyCFunction)Core_sync, METH_NOARGS, "write the counters into the stats"},
    {"held", (PyCFunction)Core_held, METH_NOARGS, "connections the core holds"},
    {NULL}
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "msnsniff.core._core.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "capture records -> Segments or framed commands (see the module's comment)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Core_iternext,
    .tp_methods = Core_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_core", "msnsniff's compiled core (see msnsniff/core/__init__.py)",
    -1, NULL
};

PyMODINIT_FUNC PyInit__core(void) {
    if (PyType_Ready(&CoreType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
