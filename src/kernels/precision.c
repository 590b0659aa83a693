/* model.precision: which backend runs the model's products (see include/rmens/kernels/precision.h). */
#include "rmens/kernels/precision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "rmens/kernels/matmul.h"
#include "rmens/base/common.h"
#include "rmens/kernels/tiled_blas.h"

static rm_precision_info current = {"fp32", RM_MATMUL_FP32, "fp32", "", "", 0, "", "requested"}; /* described on first use */
static int onednn_state = -1; /* -1 unknown, 0 no bf16 matmul here, 1 available */
static char onednn_impl[96];

/* The value after "key<tabs>: " of a /proc/cpuinfo line, or NULL when the line has another key. */
static const char *cpuinfo_value(const char *line, const char *key)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) != 0 || (line[n] != ' ' && line[n] != '\t' && line[n] != ':')) return NULL;
    const char *colon = strchr(line + n, ':');
    if (!colon) return NULL;
    colon++;
    while (*colon == ' ' || *colon == '\t') colon++;
    return colon;
}

/* CPU model name from /proc/cpuinfo (Linux) with its family, model and stepping, else
 * "unknown". The numbers matter: virtual machines often report a bare "AMD EPYC" for
 * generations whose kernels and caches (so oneDNN's blocking, so bf16 results) differ. */
static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512], name[128] = "", family[16] = "", model[16] = "", stepping[16] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0' && name[0]) break; /* the first processor's block is enough */
        const char *v;
        if ((v = cpuinfo_value(line, "model name"))) snprintf(name, sizeof name, "%s", v);
        else if ((v = cpuinfo_value(line, "cpu family"))) snprintf(family, sizeof family, "%s", v);
        else if ((v = cpuinfo_value(line, "model"))) snprintf(model, sizeof model, "%s", v);
        else if ((v = cpuinfo_value(line, "stepping"))) snprintf(stepping, sizeof stepping, "%s", v);
    }
    fclose(f);
    if (!name[0]) return;
    if (family[0] && model[0])
        snprintf(out, size, "%s (family %s model %s%s%s)", name, family, model, stepping[0] ? " stepping " : "",
                 stepping);
    else
        snprintf(out, size, "%s", name);
}

/* Native bf16 arithmetic: AMX-BF16 (CPUID.7.0:EDX[22]) or AVX512_BF16 (CPUID.7.1:EAX[5]). */
static int cpu_bf16_flags(char *out, size_t size)
{
    int amx = 0, avx512 = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        amx = (d >> 22) & 1;
        unsigned max_sub = a;
        if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) avx512 = (a >> 5) & 1;
    }
#endif
    snprintf(out, size, "%s%s%s", amx ? "amx_bf16" : "", amx && avx512 ? " " : "", avx512 ? "avx512_bf16" : "");
    if (!amx && !avx512) snprintf(out, size, "none");
    return amx || avx512;
}

void rm_cpu_identity_read(rm_cpu_identity *id)
{
    memset(id, 0, sizeof *id);
    snprintf(id->vendor, sizeof id->vendor, "unknown");
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(id->vendor, &b, 4), memcpy(id->vendor + 4, &d, 4), memcpy(id->vendor + 8, &c, 4);
        id->vendor[12] = '\0';
    }
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        int family = (int)((a >> 8) & 0xf), model = (int)((a >> 4) & 0xf);
        if (family == 0xf) family += (int)((a >> 20) & 0xff);
        if (family == 0x6 || family >= 0xf) model += (int)((a >> 16) & 0xf) << 4;
        id->family = family, id->model = model;
    }
    char flags[64];
    cpu_bf16_flags(flags, sizeof flags);
    id->amx_bf16 = strstr(flags, "amx_bf16") != NULL;
    id->avx512_bf16 = strstr(flags, "avx512_bf16") != NULL;
#endif
}

int rm_precision_auto_choice(const rm_cpu_identity *cpu, const char *onednn_kernel, char *reason, size_t size)
{
    if (!onednn_kernel || !onednn_kernel[0]) {
        snprintf(reason, size, "auto: fp32, oneDNN runs no bf16 kernel on this CPU");
        return 0;
    }
    if (cpu->amx_bf16 && strstr(onednn_kernel, "amx")) {
        snprintf(reason, size, "auto: bf16, AMX-BF16 tiles (oneDNN %s)", onednn_kernel);
        return 1;
    }
    /* Zen 5 executes vdpbf16ps on 512-bit data paths: twice fp32's FMA rate per core
     * (512 against 256 GFLOP/s), and rmens's bf16 training measured 1.8x its fp32 */
    if (cpu->avx512_bf16 && strcmp(cpu->vendor, "AuthenticAMD") == 0 && cpu->family >= 26) {
        snprintf(reason, size, "auto: bf16, AVX512_BF16 at full 512-bit width (AMD family %d: Zen 5 or later)",
                 cpu->family);
        return 1;
    }
    if (cpu->avx512_bf16) {
        snprintf(reason, size,
                 "auto: fp32, AVX512_BF16 without AMX or full-width execution (%s family %d model %d): oneDNN's "
                 "bf16 matmul measured slower than sgemm", cpu->vendor, cpu->family, cpu->model);
        return 0;
    }
    snprintf(reason, size, "auto: fp32, no AMX-BF16 or AVX512_BF16");
    return 0;
}

int rm_precision_onednn_available(void)
{
    if (onednn_state < 0) {
        onednn_state = rm_lowp_onednn_probe(onednn_impl, sizeof onednn_impl) == 0;
        rm_error_clear();
    }
    return onednn_state;
}

static void describe(rm_precision_info *info, rm_matmul_backend backend)
{
    info->backend = backend;
    snprintf(info->precision, sizeof info->precision, "%s", backend == RM_MATMUL_FP32 ? "fp32" : "bf16");
    if (backend == RM_MATMUL_FP32) snprintf(info->kernel, sizeof info->kernel, "%s", rm_own_sgemm_name());
    else if (backend == RM_MATMUL_BF16_ONEDNN) snprintf(info->kernel, sizeof info->kernel, "onednn %s", onednn_impl);
    else snprintf(info->kernel, sizeof info->kernel, "openblas sgemm on bf16-rounded operands (emulated)");
    cpu_model(info->cpu, sizeof info->cpu);
    info->cpu_native_bf16 = cpu_bf16_flags(info->cpu_bf16_flags, sizeof info->cpu_bf16_flags);
}

int rm_precision_set_backend(rm_matmul_backend backend)
{
    if (backend == RM_MATMUL_BF16_ONEDNN && !rm_precision_onednn_available())
        return rm_errorf("model.precision: oneDNN has no bf16 matmul on this CPU");
    rm_lowp_set_backend(backend);
    describe(&current, backend);
    return 0;
}

int rm_precision_select(const char *requested, int warn, rm_precision_info *info)
{
    rm_matmul_backend backend;
    char flags[64], reason[192] = "requested";
    int native = cpu_bf16_flags(flags, sizeof flags);
    if (strcmp(requested, "fp32") == 0) {
        backend = RM_MATMUL_FP32;
    } else if (strcmp(requested, "auto") == 0) {
        rm_cpu_identity id;
        rm_cpu_identity_read(&id);
        (void)native;
        int bf16 = rm_precision_auto_choice(&id, rm_precision_onednn_available() ? onednn_impl : NULL, reason,
                                            sizeof reason);
        backend = bf16 ? RM_MATMUL_BF16_ONEDNN : RM_MATMUL_FP32;
    } else if (strcmp(requested, "bf16") == 0) {
        const char *emulate = getenv("RMENS_BF16_EMULATE"); /* tests: the emulated path on any CPU */
        if (rm_precision_onednn_available() && !(emulate && strcmp(emulate, "1") == 0)) {
            backend = RM_MATMUL_BF16_ONEDNN;
        } else {
            backend = RM_MATMUL_BF16_EMULATED;
            if (warn && !(emulate && strcmp(emulate, "1") == 0))
                rm_warnf("model.precision = \"bf16\": oneDNN has no bf16 kernel on this CPU (bf16 flags: %s); operands "
                         "are rounded to bf16 and multiplied with sgemm (same rounding, fp32 speed)", flags);
        }
    } else {
        return rm_errorf("model.precision: '%s' is not one of fp32, bf16, auto", requested);
    }
    if (rm_precision_set_backend(backend) != 0) return -1;
    snprintf(current.requested, sizeof current.requested, "%s", requested);
    snprintf(current.reason, sizeof current.reason, "%s", reason);
    if (info) *info = current;
    return 0;
}

rm_matmul_backend rm_precision_backend(void) { return current.backend; }
const rm_precision_info *rm_precision_current(void)
{
    if (!current.cpu[0]) describe(&current, current.backend);
    return &current;
}
