/* How much CPU a process has used, from /proc/PID/stat: shared by the
 * reliability tests (a server must not spin) and bench-server (CPU per
 * connection). Header-only. */
#ifndef WIRECHECK_TEST_PROC_CPU_H
#define WIRECHECK_TEST_PROC_CPU_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* CPU time (user + system) process pid has used so far, in microseconds
 * (clock-tick resolution), or -1 if it cannot be read. */
static inline long long proc_cpu_usec(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields are counted
     * from the last ')'. After it: state(3) ... utime(14) stime(15). */
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (long long)(utime + stime) * 1000000 / sysconf(_SC_CLK_TCK);
}

#endif
