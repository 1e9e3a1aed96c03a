/* Streams the frames of an open libpcap capture (pcap or pcapng, file or
 * memory) into an analysis: the one read loop shared by `wirecheck check`,
 * the capture-analysis fuzz harness and the golden tools. */
#ifndef WIRECHECK_CAPFILE_H
#define WIRECHECK_CAPFILE_H

#include <pcap/pcap.h>
#include <stdint.h>

#include "analysis.h"

/* Feeds frames 1, 2, ... until the end, an unreadable record, or max_frames
 * (0: no limit); *frames gets how many were fed. Returns pcap_next_ex's last
 * result: PCAP_ERROR_BREAK at the end of the capture, PCAP_ERROR for an
 * unreadable record (pcap_geterr says why), 1 when max_frames stopped it.
 * Timestamps saturate (analysis_timestamp): a hostile file cannot overflow. */
int capfile_feed(pcap_t *pc, struct analysis *a, uint32_t max_frames, uint32_t *frames);

#endif
