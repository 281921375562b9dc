/* The data-cache sizes of the running CPU, as one core sees them, for the GEMM's blocking.
 *
 * Sources, in order: Linux sysfs (/sys/devices/system/cpu/cpu0/cache/index*: level, type, size,
 * shared_cpu_list), then cpuid (leaf 4 on Intel, 0x8000001D on AMD: ways x partitions x line
 * size x sets, and how many logical CPUs share the cache), then conservative defaults (32 KiB
 * L1d, 256 KiB L2, 1 MiB of L3 per core) for what neither source gives.  `l3_per_core` is the
 * L3 divided among the logical CPUs that share it: the share one GEMM thread may count on when
 * every core runs one.
 */
#ifndef FNN_CACHE_H
#define FNN_CACHE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fnn_cpu.h"

enum { FNN_CACHE_DEFAULT = 0, FNN_CACHE_SYSFS = 1, FNN_CACHE_CPUID = 2 };

typedef struct {
    long l1d, l2, l3, l3_per_core;   /* bytes; l3 = 0 when the CPU has none */
    int source;                      /* FNN_CACHE_*: where l1d came from */
} fnn_cache_info;

#define FNN_CACHE_DEFAULT_L1D (32L << 10)
#define FNN_CACHE_DEFAULT_L2 (256L << 10)
#define FNN_CACHE_DEFAULT_L3_PER_CORE (1L << 20)

/* "32K", "1024K", "16M", "12345" -> bytes; 0 when unreadable. */
static inline long fnn_cache_parse_size(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0)
        return 0;
    if (*end == 'K' || *end == 'k')
        v <<= 10;
    else if (*end == 'M' || *end == 'm')
        v <<= 20;
    else if (*end == 'G' || *end == 'g')
        v <<= 30;
    return v;
}

/* "0-1,4,6-7" -> 5; 0 when unreadable. */
static inline int fnn_cache_count_cpus(const char *s)
{
    int n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b;
        if (end == s)
            break;
        b = a;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1)
                break;
            s = end;
        }
        if (b >= a)
            n += (int)(b - a + 1);
        if (*s != ',')
            break;
        s++;
    }
    return n;
}

static inline int fnn_cache_read_line(const char *path, char *buf, int len)
{
    FILE *f = fopen(path, "r");
    int ok;
    if (f == NULL)
        return 0;
    ok = fgets(buf, len, f) != NULL;
    fclose(f);
    return ok;
}

/* Record one data (or unified) cache of `level`, `size` bytes, shared by `sharing` CPUs; 1 for
 * the L1d (the level every source must give), else 0. */
static inline int fnn_cache_store(fnn_cache_info *info, int level, long size, int sharing)
{
    if (level == 1) {
        info->l1d = size;
        return 1;
    }
    if (level == 2) {
        info->l2 = size;
    } else if (level == 3) {
        info->l3 = size;
        info->l3_per_core = size / (sharing > 0 ? sharing : 1);
    }
    return 0;
}

static inline int fnn_cache_from_sysfs(fnn_cache_info *info)
{
    int idx, found = 0;
    for (idx = 0; idx < 16; idx++) {
        char path[128], line[256];
        int level, sharing = 1;
        long size;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        if (!fnn_cache_read_line(path, line, sizeof line))
            continue;
        level = atoi(line);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        if (!fnn_cache_read_line(path, line, sizeof line) || strncmp(line, "Instruction", 11) == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        if (!fnn_cache_read_line(path, line, sizeof line))
            continue;
        size = fnn_cache_parse_size(line);
        if (size <= 0)
            continue;
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/shared_cpu_list", idx);
        if (fnn_cache_read_line(path, line, sizeof line)) {
            sharing = fnn_cache_count_cpus(line);
            if (sharing < 1)
                sharing = 1;
        }
        found |= fnn_cache_store(info, level, size, sharing);
    }
    return found;
}

#if FNN_X86
/* cpuid's deterministic cache parameters: leaf 4 (Intel) or 0x8000001D (AMD, same layout). */
static inline int fnn_cache_from_cpuid(fnn_cache_info *info)
{
    unsigned int a, b, c, d, leaf = 0, sub;
    int found = 0;
    if (__get_cpuid_max(0, 0) >= 4) {
        __cpuid_count(4, 0, a, b, c, d);
        if ((a & 0x1f) != 0)
            leaf = 4;
    }
    if (leaf == 0 && __get_cpuid_max(0x80000000u, 0) >= 0x8000001Du) {
        __cpuid_count(0x8000001Du, 0, a, b, c, d);
        if ((a & 0x1f) != 0)
            leaf = 0x8000001Du;
    }
    if (leaf == 0)
        return 0;
    for (sub = 0; sub < 16; sub++) {
        unsigned int type, level, sharing;
        long size;
        __cpuid_count(leaf, sub, a, b, c, d);
        type = a & 0x1f;
        if (type == 0)
            break;
        if (type == 2)                       /* instruction cache */
            continue;
        level = (a >> 5) & 7;
        sharing = ((a >> 14) & 0xfff) + 1;
        size = (long)(((b >> 22) & 0x3ff) + 1) * (long)(((b >> 12) & 0x3ff) + 1) *
               (long)((b & 0xfff) + 1) * (long)((unsigned long)c + 1);
        found |= fnn_cache_store(info, (int)level, size, (int)sharing);
    }
    return found;
}
#else
static inline int fnn_cache_from_cpuid(fnn_cache_info *info) { (void)info; return 0; }
#endif

/* Fill info from the first source that knows the L1d; sizes no source gives get the defaults. */
static inline void fnn_cache_detect(fnn_cache_info *info)
{
    memset(info, 0, sizeof *info);
    if (fnn_cache_from_sysfs(info)) {
        info->source = FNN_CACHE_SYSFS;
    } else {
        memset(info, 0, sizeof *info);
        info->source = fnn_cache_from_cpuid(info) ? FNN_CACHE_CPUID : FNN_CACHE_DEFAULT;
    }
    if (info->l1d <= 0)
        info->l1d = FNN_CACHE_DEFAULT_L1D;
    if (info->l2 <= 0)
        info->l2 = FNN_CACHE_DEFAULT_L2;
    if (info->l3_per_core <= 0)
        info->l3_per_core = info->l3 > 0 ? info->l3 : FNN_CACHE_DEFAULT_L3_PER_CORE;
}

#endif /* FNN_CACHE_H */
