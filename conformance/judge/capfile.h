/* Streams the frames of an open libpcap capture (pcap or pcapng, file or
 * memory) into an analysis: the one read loop shared by `wirecheck check`,
 * the capture-analysis fuzz harness and the golden tools. */
#ifndef WIRECHECK_CAPFILE_H
#define WIRECHECK_CAPFILE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>

#include "analysis.h"

/* Feeds frames 1, 2, ... until the end, an unreadable record, or max_frames
 * (0: no limit); *frames gets how many were fed. Returns pcap_next_ex's last
 * result: PCAP_ERROR_BREAK at the end of the capture, PCAP_ERROR for an
 * unreadable record (pcap_geterr says why), 1 when max_frames stopped it.
 * Timestamps saturate (analysis_timestamp): a hostile file cannot overflow. */
int capfile_feed(pcap_t *pc, struct analysis *a, uint32_t max_frames, uint32_t *frames);

/* ---- every interface and section: the reader of `check --write` ----------
 *
 * libpcap 1.10 refuses a pcapng whose interfaces differ in link type, and
 * hands out neither the interfaces nor the sections. This reader walks the
 * blocks itself: classic pcap (micro- or nanosecond, either byte order) and
 * pcapng (any number of sections, either byte order each, any number of
 * interfaces of any link type; Enhanced, Simple and the obsolete Packet
 * blocks; every other block skipped). Frames are numbered 1, 2, ... across
 * all interfaces and sections, as Wireshark numbers them.
 *
 *   struct capfile_reader *r = capfile_open("in.pcapng", err, sizeof err);
 *   struct capfile_record rec;
 *   int rc;
 *   while ((rc = capfile_next(r, &rec)) == 1)
 *       if (rec.kind == CAPFILE_PACKET)
 *           analysis_feed(a, rec.frame, rec.ts_usec, rec.iface->linktype, ...);
 *   if (rc < 0) ... capfile_error(r) ...;
 *   capfile_close(r);
 *
 * Memory: one block at a time (at most CAPFILE_MAX_BLOCK bytes). */

#define CAPFILE_MAX_BLOCK (16u * 1024 * 1024)
#define CAPFILE_MAX_OPTIONS 64

enum capfile_kind { CAPFILE_SECTION = 1, CAPFILE_INTERFACE, CAPFILE_PACKET };

/* An option as the file has it, its value in host byte order for the
 * numeric options this reader knows (if_tsoffset, if_speed, epb_flags);
 * only the options a copy of the block should keep are returned. */
struct capfile_option {
    uint16_t code;
    uint16_t len;
    const uint8_t *value;
};

struct capfile_interface {
    uint16_t linktype;       /* LINKTYPE_* as stored */
    uint32_t snaplen;
    uint64_t units_per_sec;  /* from if_tsresol: 10^6 unless it says otherwise */
    int64_t tsoffset_sec;    /* if_tsoffset */
};

struct capfile_record {
    enum capfile_kind kind;
    bool pcapng;                           /* the file is pcapng (else classic pcap) */
    uint32_t section;                      /* 0-based */
    /* INTERFACE: the new interface's id; PACKET: the packet's interface. */
    uint32_t interface;
    const struct capfile_interface *iface; /* INTERFACE, PACKET */
    /* Options kept (valid until the next call): SECTION shb_* and comments;
     * INTERFACE if_name, if_description, if_tsresol, if_os, if_fcslen,
     * if_tsoffset, if_hardware, if_speed, comments; PACKET comments and
     * epb_flags. A classic pcap's interface gets if_tsresol 9 when it is
     * nanosecond. */
    struct capfile_option options[CAPFILE_MAX_OPTIONS];
    size_t noptions;
    /* PACKET */
    uint32_t frame;        /* 1-based */
    uint64_t ts_ticks;     /* the timestamp as stored, in iface->units_per_sec */
    int64_t ts_usec;       /* microseconds since the epoch, tsoffset applied, saturated */
    uint32_t caplen, wirelen;
    const uint8_t *data;
};

struct capfile_reader;

/* NULL with "open PATH: reason" or "PATH: not a pcap or pcapng file" in err. */
struct capfile_reader *capfile_open(const char *path, char *err, size_t errlen);

/* 1: *rec filled; 0: the end of the file; -1: unreadable (capfile_error). */
int capfile_next(struct capfile_reader *r, struct capfile_record *rec);

/* What went wrong, naming the frame or the byte offset. */
const char *capfile_error(const struct capfile_reader *r);

void capfile_close(struct capfile_reader *r);

#endif
