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
