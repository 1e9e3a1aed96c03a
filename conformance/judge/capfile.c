#include "capfile.h"

int capfile_feed(pcap_t *pc, struct analysis *a, uint32_t max_frames, uint32_t *frames)
{
    int linktype = pcap_datalink(pc);
    struct pcap_pkthdr *hdr;
    const u_char *bytes;
    int rc;
    *frames = 0;
    while ((max_frames == 0 || *frames < max_frames) &&
           (rc = pcap_next_ex(pc, &hdr, &bytes)) == 1) {
        ++*frames;
        int64_t ts = analysis_timestamp((int64_t)hdr->ts.tv_sec, (int64_t)hdr->ts.tv_usec);
        analysis_feed(a, *frames, ts, linktype, hdr->caplen, hdr->len, bytes);
    }
    return max_frames != 0 && *frames >= max_frames ? 1 : rc;
}

/* ---- the block reader ----------------------------------------------------- */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    PCAP_MAGIC_USEC = 0xA1B2C3D4,
    PCAP_MAGIC_NSEC = 0xA1B23C4D,
    NG_SHB = 0x0A0D0D0A,
    NG_IDB = 0x00000001,
    NG_PB = 0x00000002,   /* obsolete Packet Block */
    NG_SPB = 0x00000003,
    NG_EPB = 0x00000006,
    NG_BYTE_ORDER = 0x1A2B3C4D,
    NG_MAX_INTERFACES = 65536,
    PCAP_MAX_RECORD = 262144,
};

struct capfile_reader {
    FILE *f;
    char path[256];
    char err[512];
    bool pcapng, swapped, header_pending;
    uint32_t section;     /* sections seen; the current is section - 1 */
    uint32_t frame;
    uint64_t offset;      /* of the next block / record */
    uint8_t *buf;
    size_t cap;
    struct capfile_interface *ifaces;
    size_t nifaces, ifaces_cap;
    uint8_t nsec_resol;   /* classic pcap: the if_tsresol value to hand out */
};

__attribute__((format(printf, 2, 3)))
static int fail(struct capfile_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return -1;
}

static uint16_t sw16(const struct capfile_reader *r, uint16_t v)
{
    return r->swapped ? (uint16_t)(v >> 8 | v << 8) : v;
}

static uint32_t sw32(const struct capfile_reader *r, uint32_t v)
{
    return r->swapped ? __builtin_bswap32(v) : v;
}

static uint64_t sw64(const struct capfile_reader *r, uint64_t v)
{
    return r->swapped ? __builtin_bswap64(v) : v;
}

static uint16_t get16(const struct capfile_reader *r, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return sw16(r, v);
}

static uint32_t get32(const struct capfile_reader *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return sw32(r, v);
}

/* 1 read, 0 clean end before the first byte, -1 short or failed. */
static int read_exact(struct capfile_reader *r, void *dst, size_t n)
{
    size_t got = fread(dst, 1, n, r->f);
    if (got == n) {
        r->offset += n;
        return 1;
    }
    if (got == 0 && feof(r->f))
        return 0;
    if (ferror(r->f))
        fail(r, "%s: read error at byte %llu: %s", r->path, (unsigned long long)r->offset,
             strerror(errno));
    else
        fail(r, "%s: truncated at byte %llu (after frame %u)", r->path,
             (unsigned long long)(r->offset + got), r->frame);
    return -1;
}

static bool reserve(struct capfile_reader *r, size_t n)
{
    if (n <= r->cap)
        return true;
    size_t cap = r->cap ? r->cap : 65536;
    while (cap < n)
        cap *= 2;
    uint8_t *b = realloc(r->buf, cap);
    if (!b)
        return false;
    r->buf = b;
    r->cap = cap;
    return true;
}

static struct capfile_interface *add_iface(struct capfile_reader *r)
{
    if (r->nifaces == r->ifaces_cap) {
        size_t cap = r->ifaces_cap ? r->ifaces_cap * 2 : 8;
        void *p = realloc(r->ifaces, cap * sizeof *r->ifaces);
        if (!p)
            return NULL;
        r->ifaces = p;
        r->ifaces_cap = cap;
    }
    struct capfile_interface *i = &r->ifaces[r->nifaces++];
    memset(i, 0, sizeof *i);
    i->units_per_sec = 1000000;
    return i;
}

/* Capture time in microseconds: ticks in `units` per second, plus the offset. */
static int64_t to_usec(const struct capfile_interface *i, uint64_t ticks)
{
    uint64_t units = i->units_per_sec;
    uint64_t sec = ticks / units, frac = ticks % units, usec;
    if (1000000 % units == 0)
        usec = frac * (1000000 / units);
    else if (units % 1000000 == 0)
        usec = frac / (units / 1000000);
    else
        usec = (uint64_t)((double)frac * 1e6 / (double)units);
    int64_t s = sec > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)sec;
    int64_t off = i->tsoffset_sec;
    if (off > INT64_MAX / 4 || off < -(INT64_MAX / 4))
        off = off > 0 ? INT64_MAX / 4 : -(INT64_MAX / 4);
    return analysis_timestamp(s + off, (int64_t)usec);
}

struct capfile_reader *capfile_open(const char *path, char *err, size_t errlen)
{
    struct capfile_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    snprintf(r->path, sizeof r->path, "%s", path);
    r->f = fopen(path, "rb");
    if (!r->f) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    setvbuf(r->f, NULL, _IOFBF, 1 << 20);
    uint32_t magic;
    if (fread(&magic, 1, sizeof magic, r->f) != sizeof magic || fseek(r->f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: not a pcap or pcapng file (shorter than 4 bytes)", path);
        capfile_close(r);
        return NULL;
    }
    if (magic == NG_SHB) {
        r->pcapng = true;
    } else if (magic == PCAP_MAGIC_USEC || magic == PCAP_MAGIC_NSEC ||
               __builtin_bswap32(magic) == PCAP_MAGIC_USEC ||
               __builtin_bswap32(magic) == PCAP_MAGIC_NSEC) {
        r->header_pending = true;
    } else {
        snprintf(err, errlen, "%s: not a pcap or pcapng file (magic 0x%08x)", path, magic);
        capfile_close(r);
        return NULL;
    }
    return r;
}

void capfile_close(struct capfile_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r->ifaces);
    free(r);
}

const char *capfile_error(const struct capfile_reader *r)
{
    return r->err;
}

static void start_record(struct capfile_reader *r, struct capfile_record *rec,
                         enum capfile_kind kind)
{
    memset(rec, 0, sizeof *rec);
    rec->kind = kind;
    rec->pcapng = r->pcapng;
    rec->section = r->section ? r->section - 1 : 0;
}

/* ---- classic pcap ---- */

static int pcap_next_record(struct capfile_reader *r, struct capfile_record *rec)
{
    uint8_t h[24];
    if (r->header_pending) {
        int rc = read_exact(r, h, sizeof h);
        if (rc <= 0)
            return rc < 0 ? -1 : fail(r, "%s: empty file", r->path);
        uint32_t magic;
        memcpy(&magic, h, 4);
        r->swapped = magic != PCAP_MAGIC_USEC && magic != PCAP_MAGIC_NSEC;
        bool nsec = sw32(r, magic) == PCAP_MAGIC_NSEC;
        r->header_pending = false;
        r->section = 1;
        struct capfile_interface *i = add_iface(r);
        if (!i)
            return fail(r, "%s: out of memory", r->path);
        i->snaplen = get32(r, h + 16);
        i->linktype = (uint16_t)(get32(r, h + 20) & 0xFFFF);
        i->units_per_sec = nsec ? 1000000000 : 1000000;
        start_record(r, rec, CAPFILE_INTERFACE);
        rec->iface = i;
        if (nsec) {
            r->nsec_resol = 9;
            rec->options[rec->noptions++] = (struct capfile_option){ 9, 1, &r->nsec_resol };
        }
        return 1;
    }
    int rc = read_exact(r, h, 16);
    if (rc <= 0)
        return rc;
    const struct capfile_interface *i = &r->ifaces[0];
    uint32_t caplen = get32(r, h + 8), wirelen = get32(r, h + 12);
    if (caplen > PCAP_MAX_RECORD && caplen > i->snaplen)
        return fail(r, "%s: frame %u: captured length %u is larger than the file allows",
                    r->path, r->frame + 1, caplen);
    if (!reserve(r, caplen ? caplen : 1))
        return fail(r, "%s: out of memory", r->path);
    if (caplen && read_exact(r, r->buf, caplen) != 1)
        return fail(r, "%s: frame %u: truncated record", r->path, r->frame + 1);
    start_record(r, rec, CAPFILE_PACKET);
    rec->iface = i;
    rec->frame = ++r->frame;
    uint64_t sec = get32(r, h), frac = get32(r, h + 4);
    rec->ts_ticks = sec * i->units_per_sec + frac;
    rec->ts_usec = to_usec(i, rec->ts_ticks);
    rec->caplen = caplen;
    rec->wirelen = wirelen;
    rec->data = r->buf;
    return 1;
}

/* ---- pcapng ---- */

/* Is option `code` of a block of `type` kept in a copy? */
static bool keep_option(uint32_t type, uint16_t code)
{
    if (code == 1) /* opt_comment */
        return true;
    switch (type) {
    case NG_SHB: return code >= 2 && code <= 4;
    case NG_IDB: return code == 2 || code == 3 || code == 8 || code == 9 || (code >= 12 && code <= 15);
    case NG_EPB: case NG_PB: return code == 2;
    default: return false;
    }
}

/* Parses the options in [p, end): keeps some in rec, swaps the numeric
 * ones in place, applies an interface's if_tsresol/if_tsoffset. */
static int parse_options(struct capfile_reader *r, uint32_t type, uint8_t *p, const uint8_t *end,
                         struct capfile_record *rec, struct capfile_interface *iface)
{
    while (end - p >= 4) {
        uint16_t code = get16(r, p), len = get16(r, p + 2);
        p += 4;
        if (code == 0)
            break;
        size_t padded = (size_t)len + ((4 - (len & 3)) & 3);
        if ((size_t)(end - p) < len)
            return fail(r, "%s: option %u overruns its block at byte %llu", r->path, code,
                        (unsigned long long)r->offset);
        if ((code == 14 || code == 8) && len == 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            v = sw64(r, v);
            memcpy(p, &v, 8);
        } else if (code == 2 && len == 4 && (type == NG_EPB || type == NG_PB)) {
            uint32_t v = get32(r, p);
            memcpy(p, &v, 4);
        }
        if (iface && code == 9 && len >= 1) {
            uint8_t v = p[0];
            bool pow2 = v & 0x80;
            unsigned e = v & 0x7F;
            if ((pow2 && e > 63) || (!pow2 && e > 19))
                return fail(r, "%s: interface %zu: unusable if_tsresol %u", r->path,
                            r->nifaces - 1, v);
            uint64_t u = 1;
            for (unsigned k = 0; k < e; k++)
                u *= pow2 ? 2 : 10;
            iface->units_per_sec = u;
        }
        if (iface && code == 14 && len == 8) {
            int64_t off;
            memcpy(&off, p, 8);
            iface->tsoffset_sec = off;
        }
        if (keep_option(type, code) && rec->noptions < CAPFILE_MAX_OPTIONS)
            rec->options[rec->noptions++] = (struct capfile_option){ code, len, p };
        p += padded > (size_t)(end - p) ? (size_t)(end - p) : padded;
    }
    return 1;
}

static int packet_record(struct capfile_reader *r, struct capfile_record *rec, uint32_t ifid,
                         uint64_t ticks, uint32_t caplen, uint32_t wirelen, const uint8_t *data)
{
    if (ifid >= r->nifaces)
        return fail(r, "%s: frame %u names interface %u, but section %u has %zu", r->path,
                    r->frame + 1, ifid, r->section ? r->section - 1 : 0, r->nifaces);
    rec->kind = CAPFILE_PACKET;
    rec->interface = ifid;
    rec->iface = &r->ifaces[ifid];
    rec->frame = ++r->frame;
    rec->ts_ticks = ticks;
    rec->ts_usec = to_usec(rec->iface, ticks);
    rec->caplen = caplen;
    rec->wirelen = wirelen;
    rec->data = data;
    return 1;
}

static int pcapng_next_record(struct capfile_reader *r, struct capfile_record *rec)
{
    for (;;) {
        uint64_t at = r->offset;
        uint8_t h[8];
        int rc = read_exact(r, h, sizeof h);
        if (rc <= 0)
            return rc;
        uint32_t type, total;
        memcpy(&type, h, 4);
        if (type == NG_SHB) {
            uint32_t bom;
            if (read_exact(r, &bom, 4) != 1)
                return fail(r, "%s: truncated section header at byte %llu", r->path,
                            (unsigned long long)at);
            if (bom != NG_BYTE_ORDER && __builtin_bswap32(bom) != NG_BYTE_ORDER)
                return fail(r, "%s: bad byte-order magic at byte %llu", r->path,
                            (unsigned long long)at);
            r->swapped = bom != NG_BYTE_ORDER;
        } else {
            if (!r->section)
                return fail(r, "%s: no section header at byte 0", r->path);
            type = sw32(r, type);
        }
        memcpy(&total, h + 4, 4);
        total = sw32(r, total);
        size_t head = type == NG_SHB ? 12 : 8;
        if (total < head + 4 || total % 4 || total > CAPFILE_MAX_BLOCK)
            return fail(r, "%s: block at byte %llu has an impossible length %u", r->path,
                        (unsigned long long)at, total);
        size_t body = total - head; /* the body and the trailing length */
        if (!reserve(r, body))
            return fail(r, "%s: out of memory", r->path);
        if (read_exact(r, r->buf, body) != 1)
            return fail(r, "%s: truncated block at byte %llu", r->path, (unsigned long long)at);
        if (get32(r, r->buf + body - 4) != total)
            return fail(r, "%s: block at byte %llu: trailing length differs", r->path,
                        (unsigned long long)at);
        uint8_t *b = r->buf;
        const uint8_t *end = b + body - 4;
        size_t n = body - 4;
        switch (type) {
        case NG_SHB:
            if (n < 12)
                return fail(r, "%s: short section header at byte %llu", r->path,
                            (unsigned long long)at);
            if (get16(r, b) != 1)
                return fail(r, "%s: section at byte %llu: pcapng version %u unsupported",
                            r->path, (unsigned long long)at, get16(r, b));
            r->section++;
            r->nifaces = 0;
            start_record(r, rec, CAPFILE_SECTION);
            return parse_options(r, type, b + 12, end, rec, NULL);
        case NG_IDB: {
            if (n < 8)
                return fail(r, "%s: short interface block at byte %llu", r->path,
                            (unsigned long long)at);
            if (r->nifaces >= NG_MAX_INTERFACES)
                return fail(r, "%s: more than %d interfaces", r->path, NG_MAX_INTERFACES);
            struct capfile_interface *i = add_iface(r);
            if (!i)
                return fail(r, "%s: out of memory", r->path);
            i->linktype = get16(r, b);
            i->snaplen = get32(r, b + 4);
            start_record(r, rec, CAPFILE_INTERFACE);
            rec->interface = (uint32_t)(r->nifaces - 1);
            rec->iface = i;
            return parse_options(r, type, b + 8, end, rec, i);
        }
        case NG_EPB: case NG_PB: {
            if (n < 20)
                return fail(r, "%s: short packet block at byte %llu", r->path,
                            (unsigned long long)at);
            uint32_t ifid = type == NG_EPB ? get32(r, b) : get16(r, b);
            uint64_t ticks = (uint64_t)get32(r, b + 4) << 32 | get32(r, b + 8);
            uint32_t caplen = get32(r, b + 12), wirelen = get32(r, b + 16);
            if (caplen > n - 20)
                return fail(r, "%s: frame %u: captured length %u overruns its block", r->path,
                            r->frame + 1, caplen);
            start_record(r, rec, CAPFILE_PACKET);
            size_t data_end = 20 + (size_t)caplen + ((4 - (caplen & 3)) & 3);
            if (data_end < n && parse_options(r, type, b + data_end, end, rec, NULL) < 0)
                return -1;
            return packet_record(r, rec, ifid, ticks, caplen, wirelen, b + 20);
        }
        case NG_SPB: {
            if (n < 4)
                return fail(r, "%s: short simple packet block at byte %llu", r->path,
                            (unsigned long long)at);
            uint32_t wirelen = get32(r, b);
            uint32_t caplen = wirelen;
            if (r->nifaces && r->ifaces[0].snaplen && caplen > r->ifaces[0].snaplen)
                caplen = r->ifaces[0].snaplen;
            if (caplen > n - 4)
                caplen = (uint32_t)(n - 4);
            start_record(r, rec, CAPFILE_PACKET);
            return packet_record(r, rec, 0, 0, caplen, wirelen, b + 4);
        }
        default:
            continue; /* name resolution, statistics, custom, ...: not needed */
        }
    }
}

int capfile_next(struct capfile_reader *r, struct capfile_record *rec)
{
    if (r->err[0])
        return -1;
    return r->pcapng ? pcapng_next_record(r, rec) : pcap_next_record(r, rec);
}
