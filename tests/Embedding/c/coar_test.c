/*
 * coar_test: the C API (coar.h, libcoar.so) end to end on the built-in tiny model, as a C host uses it.
 *
 *   coar_test SCENARIO WORK_DIR      scenarios: library errors generate cancel threads concepts references methods
 *
 * Prints one line per failed check and "SCENARIO: ok" at the end; exits 1 on any failure. Run by
 * tests/Engine.Tests/Embedding/NativeLibraryTests.cs, compiled with gcc -fsanitize=address (leaks are checked at exit).
 */
#include "coar.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The struct layouts libcoar was built with (src/Engine.Native/NativeStructs.cs); a mismatch fails the build. */
_Static_assert(sizeof(coar_progress) == 48, "coar_progress layout");
_Static_assert(sizeof(coar_load_options) == 48, "coar_load_options layout");
_Static_assert(sizeof(coar_engine_info) == 40, "coar_engine_info layout");
_Static_assert(sizeof(coar_memory_estimate) == 40, "coar_memory_estimate layout");
_Static_assert(sizeof(coar_generate_options) == 88, "coar_generate_options layout");
_Static_assert(sizeof(coar_image) == 40, "coar_image layout");
_Static_assert(sizeof(coar_images) == 32, "coar_images layout");
_Static_assert(sizeof(coar_concept_info) == 48, "coar_concept_info layout");
_Static_assert(sizeof(coar_train_step) == 56, "coar_train_step layout");
_Static_assert(sizeof(coar_train_options) == 104, "coar_train_options layout");
_Static_assert(sizeof(coar_engine_weights) == 8, "coar_engine_weights layout");
_Static_assert(sizeof(coar_prompt_images) == 16, "coar_prompt_images layout");
_Static_assert(sizeof(coar_method_options) == 48, "coar_method_options layout");

static int failures;
static const char *work_dir;

static void fail(const char *file, int line, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n");
    va_end(args);
    failures++;
}

#define CHECK(cond, ...) do { if (!(cond)) fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/* A call that must succeed; on failure prints the status and coar_last_error(). */
#define OK(call) do { coar_status s_ = (call); \
    if (s_ != COAR_OK) fail(__FILE__, __LINE__, "%s -> %s: %s", #call, coar_status_name(s_), coar_last_error()); } while (0)

/* A call that must fail with `expected` and a message containing `needle`. */
#define FAILS(call, expected, needle) do { coar_status s_ = (call); \
    if (s_ != (expected)) fail(__FILE__, __LINE__, "%s -> %s, expected %s (%s)", #call, coar_status_name(s_), \
                               coar_status_name(expected), coar_last_error()); \
    else if (!strstr(coar_last_error(), (needle))) fail(__FILE__, __LINE__, "%s: message '%s' lacks '%s'", #call, \
                                                         coar_last_error(), (needle)); } while (0)

static const char *model_dir(void)
{
    const char *dir = NULL;
    OK(coar_builtin_model(&dir));
    return dir;
}

static coar_engine *load_cpu(void)
{
    coar_load_options options = coar_load_options_default();
    options.device = "cpu";
    coar_engine *engine = NULL;
    OK(coar_engine_load(model_dir(), &options, &engine));
    return engine;
}

static coar_generate_options small_image(const char *prompt, uint64_t seed)
{
    coar_generate_options o = coar_generate_options_default();
    o.prompt = prompt;
    o.width = 64;
    o.height = 64;
    o.seed = seed;
    return o;
}

static int same_image(const coar_image *a, const coar_image *b)
{
    return a->width == b->width && a->height == b->height && a->token_count == b->token_count &&
           memcmp(a->rgb, b->rgb, (size_t)a->width * a->height * 3) == 0 &&
           memcmp(a->tokens, b->tokens, (size_t)a->token_count * sizeof(int32_t)) == 0;
}

static char *work_path(const char *name)
{
    size_t n = strlen(work_dir) + strlen(name) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", work_dir, name);
    return path;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- library: versions, status names, the built-in model ---- */

static void scenario_library(void)
{
    CHECK(coar_api_version() == COAR_API_VERSION, "coar_api_version() %d, header %d", coar_api_version(), COAR_API_VERSION);
    CHECK(coar_api_version() / 1000 == COAR_API_VERSION_MAJOR, "major version");
    const char *version = coar_version();
    CHECK(version != NULL && version[0] >= '0' && version[0] <= '9', "coar_version() '%s'", version ? version : "(null)");
    CHECK(strcmp(coar_last_error(), "") == 0, "no error yet, but last error '%s'", coar_last_error());
    CHECK(strcmp(coar_status_name(COAR_ERROR_BUSY), "COAR_ERROR_BUSY") == 0, "status name");
    CHECK(strcmp(coar_status_name((coar_status)99), "COAR_STATUS_UNKNOWN") == 0, "unknown status name");
    const char *dir = model_dir();
    CHECK(dir != NULL && strstr(dir, "tiny-model") != NULL, "built-in model dir '%s'", dir ? dir : "(null)");
    char config[4096];
    snprintf(config, sizeof config, "%s/config.json", dir);
    CHECK(file_exists(config), "%s missing", config);

    coar_memory_estimate cpu, cuda;
    OK(coar_estimate_memory(dir, "cpu", 2, 768, 768, 1, &cpu));
    OK(coar_estimate_memory(dir, "cuda", 2, 768, 768, 1, &cuda));
    CHECK(cpu.rows == 4 && cpu.weight_bytes > 0 && cpu.kv_cache_bytes > 0 && cpu.activation_bytes > 0, "estimate fields");
    CHECK(cpu.total_bytes == cpu.weight_bytes + cpu.kv_cache_bytes + cpu.activation_bytes, "estimate total");
    CHECK(cpu.kv_cache_bytes > cuda.kv_cache_bytes, "an fp32 KV cache is larger than a bf16 one (%lld vs %lld)",
          (long long)cpu.kv_cache_bytes, (long long)cuda.kv_cache_bytes);
}

/* ---- errors: bad paths, bad arguments, bad handles, thread-local messages ---- */

static void *fail_on_other_thread(void *unused)
{
    (void)unused;
    coar_engine *engine = NULL;
    FAILS(coar_engine_load("/nonexistent/other-thread", NULL, &engine), COAR_ERROR_NOT_FOUND, "/nonexistent/other-thread");
    return NULL;
}

static void scenario_errors(void)
{
    coar_engine *engine = (coar_engine *)0x1;
    FAILS(coar_engine_load("/nonexistent/model", NULL, &engine), COAR_ERROR_NOT_FOUND, "/nonexistent/model");
    CHECK(engine == (coar_engine *)0x1, "a failed load wrote its output");
    FAILS(coar_engine_load(NULL, NULL, &engine), COAR_ERROR_INVALID_ARGUMENT, "model_dir is NULL");
    FAILS(coar_engine_load(model_dir(), NULL, NULL), COAR_ERROR_INVALID_ARGUMENT, "engine (the output pointer) is NULL");

    /* Messages are per thread: a failure elsewhere leaves this thread's message alone. */
    FAILS(coar_engine_load("/nonexistent/this-thread", NULL, &engine), COAR_ERROR_NOT_FOUND, "this-thread");
    pthread_t other;
    pthread_create(&other, NULL, fail_on_other_thread, NULL);
    pthread_join(other, NULL);
    CHECK(strstr(coar_last_error(), "this-thread") != NULL, "another thread's failure changed this thread's message: '%s'",
          coar_last_error());

    coar_load_options options = coar_load_options_default();
    options.target_size = 700;
    FAILS(coar_engine_load(model_dir(), &options, &engine), COAR_ERROR_INVALID_ARGUMENT, "700");
    options = coar_load_options_default();
    options.device = "tpu";
    FAILS(coar_engine_load(model_dir(), &options, &engine), COAR_ERROR_INVALID_ARGUMENT, "tpu");

    /* A directory that is not a model: the message names the file that is missing. */
    FAILS(coar_engine_load(work_dir, NULL, &engine), COAR_ERROR_NOT_FOUND, "tokenizer.json");

    coar_memory_estimate estimate;
    FAILS(coar_estimate_memory(model_dir(), "gpu", 1, 768, 768, 1, &estimate), COAR_ERROR_INVALID_ARGUMENT, "'gpu'");
    FAILS(coar_estimate_memory(model_dir(), "cpu", 0, 768, 768, 1, &estimate), COAR_ERROR_INVALID_ARGUMENT, "image count");
    FAILS(coar_estimate_memory(model_dir(), "cpu", 1, 100, 768, 1, &estimate), COAR_ERROR_INVALID_ARGUMENT, "100x768");
    FAILS(coar_estimate_memory("/nonexistent/model", "cpu", 1, 768, 768, 1, &estimate), COAR_ERROR_NOT_FOUND, "/nonexistent/model");

    /* Handles: NULL, forged, freed. */
    coar_images *images = NULL;
    coar_generate_options o = small_image("an apple", 1);
    FAILS(coar_generate(NULL, &o, &images), COAR_ERROR_INVALID_HANDLE, "engine is NULL");
    FAILS(coar_generate((coar_engine *)0x12345670, &o, &images), COAR_ERROR_INVALID_HANDLE, "not a live engine handle");
    coar_engine_info info;
    FAILS(coar_engine_info_get(NULL, &info), COAR_ERROR_INVALID_HANDLE, "engine is NULL");
    OK(coar_engine_free(NULL));
    OK(coar_concept_free(NULL));
    coar_images_free(NULL);

    engine = load_cpu();
    coar_concept *concept = NULL;
    FAILS(coar_concept_info_get((const coar_concept *)engine, NULL), COAR_ERROR_INVALID_ARGUMENT, "info");
    coar_concept_info concept_info;
    FAILS(coar_concept_info_get((const coar_concept *)engine, &concept_info), COAR_ERROR_INVALID_HANDLE, "not a live concept handle");

    /* Bad generation options: each names the option. */
    FAILS(coar_generate(engine, NULL, &images), COAR_ERROR_INVALID_ARGUMENT, "options is NULL");
    o.prompt = NULL;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_ARGUMENT, "options->prompt is NULL");
    o = small_image("an apple", 1);
    o.count = 0;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_ARGUMENT, "options->count is 0");
    o = small_image("an apple", 1);
    o.width = 100;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_ARGUMENT, "100x64");
    o = small_image("an apple", 1);
    o.width = o.height = 1024;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_ARGUMENT, "exceed");
    o = small_image("an apple", 1);
    o.cfg = -1;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_ARGUMENT, "cfg");
    o = small_image("an apple", 1);
    o.temperature = 0;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_ARGUMENT, "temperature");
    o = small_image("an apple", 1);
    o.concept_count = 1;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_ARGUMENT, "options->concepts is NULL");
    const coar_concept *forged[] = {(const coar_concept *)0x7770};
    o.concepts = forged;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_HANDLE, "options->concepts[0]");
    o = small_image("a photo of [V] dog", 1);
    FAILS(coar_generate(engine, NULL, NULL), COAR_ERROR_INVALID_ARGUMENT, "images (the output pointer) is NULL");

    /* Concepts: missing file, not a concept file, unwritable destination. */
    FAILS(coar_concept_load("/nonexistent/dog.safetensors", engine, &concept), COAR_ERROR_NOT_FOUND, "/nonexistent/dog.safetensors");
    char config[4096];
    snprintf(config, sizeof config, "%s/config.json", model_dir());
    FAILS(coar_concept_load(config, NULL, &concept), COAR_ERROR_BAD_FILE, "config.json");
    CHECK(concept == NULL, "a failed concept load wrote its output");

    /* Training: bad arguments are refused before any work. */
    coar_train_options t = coar_train_options_default(COAR_CONCEPT_SUBJECT);
    const char *photos[] = {"/nonexistent/photo.png"};
    FAILS(coar_train_concept(engine, photos, 1, &t, &concept), COAR_ERROR_INVALID_ARGUMENT, "class_noun is NULL");
    t.class_noun = "dog";
    FAILS(coar_train_concept(engine, photos, 0, &t, &concept), COAR_ERROR_INVALID_ARGUMENT, "image_count is 0");
    t.steps = 0;
    FAILS(coar_train_concept(engine, photos, 1, &t, &concept), COAR_ERROR_INVALID_ARGUMENT, "steps");
    t = coar_train_options_default(COAR_CONCEPT_SUBJECT);
    t.class_noun = "dog";
    t.kind = (coar_concept_kind)5;
    FAILS(coar_train_concept(engine, photos, 1, &t, &concept), COAR_ERROR_INVALID_ARGUMENT, "options->kind is 5");
    t.kind = COAR_CONCEPT_SUBJECT;
    t.resolution = 64;
    t.prior_preservation = 0;
    FAILS(coar_train_concept(engine, photos, 1, &t, &concept), COAR_ERROR_NOT_FOUND, "/nonexistent/photo.png");

    OK(coar_engine_free(engine));
    FAILS(coar_engine_free(engine), COAR_ERROR_INVALID_HANDLE, "engine");
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_INVALID_HANDLE, "engine");
}

/* ---- generate: progress, determinism, per-image seeds, estimates ---- */

typedef struct progress_log {
    int calls;
    int last_step;
    int64_t last_done;
    int monotonic;
    coar_phase phase;
    int named_items;
} progress_log;

static int32_t record_progress(const coar_progress *p, void *user)
{
    progress_log *log = user;
    if (log->calls > 0 && (p->step < log->last_step || p->done < log->last_done)) log->monotonic = 0;
    if (p->done > p->total || p->step > p->steps) log->monotonic = 0;
    if (p->item != NULL && p->item[0] != 0) log->named_items++;
    log->phase = p->phase;
    log->last_step = p->step;
    log->last_done = p->done;
    log->calls++;
    return 0;
}

static void scenario_generate(void)
{
    progress_log load_log = {0, 0, 0, 1, COAR_PHASE_GENERATE, 0};
    coar_load_options options = coar_load_options_default();
    options.device = "cpu";
    options.progress = record_progress;
    options.progress_user_data = &load_log;
    coar_engine *engine = NULL;
    OK(coar_engine_load(model_dir(), &options, &engine));
    if (!engine) return;
    CHECK(load_log.calls > 0 && load_log.monotonic && load_log.phase == COAR_PHASE_LOAD, "load progress: %d calls", load_log.calls);
    CHECK(load_log.named_items == load_log.calls, "every load report names its tensor");
    CHECK(load_log.last_step > 0 && load_log.last_done > 0, "load progress reached the end");

    coar_engine_info info;
    OK(coar_engine_info_get(engine, &info));
    CHECK(strncmp(info.device, "cpu", 3) == 0, "device '%s'", info.device);
    CHECK(info.fallback_reason == NULL, "no fallback when cpu was asked for");
    CHECK(info.fingerprint && info.fingerprint[0], "fingerprint");
    CHECK(info.target_size == 768 && info.layers > 0 && info.hidden_size > 0 && info.vocab_size == 65536, "engine info numbers");

    coar_memory_estimate estimate;
    OK(coar_engine_estimate_memory(engine, 1, 768, 768, 1, &estimate));
    CHECK(estimate.rows == 2 && estimate.total_bytes > 0, "engine estimate");
    int32_t batch = 0;
    OK(coar_engine_largest_batch(engine, 768, 768, 1, 4, &batch));
    CHECK(batch >= 1 && batch <= 4, "largest batch %d", batch);

    progress_log gen_log = {0, 0, 0, 1, COAR_PHASE_LOAD, 0};
    coar_generate_options o = small_image("a red apple on a wooden table", 42);
    o.count = 2;
    o.progress = record_progress;
    o.progress_user_data = &gen_log;
    coar_images *pair = NULL;
    OK(coar_generate(engine, &o, &pair));
    if (!pair) return;
    CHECK(pair->count == 2, "2 images, got %d", pair->count);
    CHECK(gen_log.calls > 0 && gen_log.monotonic && gen_log.phase == COAR_PHASE_GENERATE, "generate progress");
    CHECK(pair->decode_seconds > 0, "timings");
    for (int i = 0; i < pair->count; i++) {
        coar_image *im = &pair->images[i];
        CHECK(im->width == 64 && im->height == 64, "image %d is %dx%d", i, im->width, im->height);
        CHECK(im->seed == 42 + (uint64_t)i, "image %d seed %llu", i, (unsigned long long)im->seed);
        /* start, height, width, 4 rows of 4 codes + a new line, end of image, end of turn */
        CHECK(im->token_count == 3 + 4 * (4 + 1) + 2, "image %d: %d tokens", i, im->token_count);
        long sum = 0;
        for (int j = 0; j < im->width * im->height * 3; j++) sum += im->rgb[j]; /* reads every byte (ASan checks the size) */
        CHECK(sum > 0, "image %d is all black", i);
    }

    /* The second image alone, from its own seed, is the same image: an image does not depend on its batch. */
    o = small_image("a red apple on a wooden table", 43);
    coar_images *single = NULL;
    OK(coar_generate(engine, &o, &single));
    if (single) {
        CHECK(same_image(&single->images[0], &pair->images[1]), "seed 43 alone differs from seed 43 in a batch");
        CHECK(!same_image(&pair->images[0], &pair->images[1]), "two seeds gave the same image");
        coar_images_free(single);
    }

    /* Without guidance (cfg 1) there are no unconditional rows; still a valid image. */
    o.cfg = 1;
    OK(coar_generate(engine, &o, &single));
    if (single) coar_images_free(single);

    coar_images_free(pair);
    OK(coar_engine_free(engine));
}

/* ---- cancel: the flag from another thread, a callback's return value, load ---- */

typedef struct flag_after {
    volatile int32_t *flag;
    int delay_ms;
} flag_after;

static void *set_flag_later(void *arg)
{
    flag_after *f = arg;
    struct timespec ts = {f->delay_ms / 1000, (long)(f->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    __atomic_store_n(f->flag, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int32_t stop_at_step_3(const coar_progress *p, void *user)
{
    int *calls = user;
    ++*calls;
    return p->step >= 3;
}

static int32_t slow_progress(const coar_progress *p, void *user)
{
    (void)p;
    (void)user;
    struct timespec ts = {0, 2000000L};
    nanosleep(&ts, NULL);
    return 0;
}

static void scenario_cancel(void)
{
    /* A flag set before the call: nothing loads, no handle. */
    volatile int32_t cancel = 1;
    coar_load_options options = coar_load_options_default();
    options.device = "cpu";
    options.cancel = &cancel;
    coar_engine *engine = NULL;
    FAILS(coar_engine_load(model_dir(), &options, &engine), COAR_ERROR_CANCELLED, "cancel flag");
    CHECK(engine == NULL, "a cancelled load returned a handle");

    engine = load_cpu();
    if (!engine) return;

    /* The progress callback stops generation. */
    int calls = 0;
    coar_generate_options o = small_image("a lighthouse at dusk", 7);
    o.width = o.height = 256;
    o.progress = stop_at_step_3;
    o.progress_user_data = &calls;
    coar_images *images = (coar_images *)0x1;
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_CANCELLED, "callback returned nonzero");
    CHECK(calls == 3, "generation went on after the callback said stop (%d calls)", calls);
    CHECK(images == (coar_images *)0x1, "a cancelled generate wrote its output");

    /* The flag, set by another thread mid-generation. */
    cancel = 0;
    o.progress = slow_progress;
    o.cancel = &cancel;
    flag_after later = {&cancel, 50};
    pthread_t setter;
    pthread_create(&setter, NULL, set_flag_later, &later);
    FAILS(coar_generate(engine, &o, &images), COAR_ERROR_CANCELLED, "cancel flag was set");
    pthread_join(setter, NULL);

    /* The engine is intact after a cancelled call: the same request now runs to the end. */
    cancel = 0;
    o = small_image("a lighthouse at dusk", 7);
    images = NULL;
    OK(coar_generate(engine, &o, &images));
    CHECK(images && images->count == 1, "generation after a cancel");
    coar_images_free(images);
    OK(coar_engine_free(engine));
}

/* ---- threads: one call at a time per engine (refused, not corrupted), engines in parallel ---- */

typedef struct busy_probe {
    coar_engine *engine;
    volatile int32_t started;
    volatile int32_t release;
    coar_status nested_generate;
    coar_status nested_free;
    char nested_message[512];
} busy_probe;

/* Holds the generating thread inside its first progress callback until the main thread has probed the engine. */
static int32_t hold_in_callback(const coar_progress *p, void *user)
{
    busy_probe *probe = user;
    if (p->step == 1) {
        /* Re-entering the engine from its own callback is refused too. */
        coar_generate_options inner = small_image("nested", 1);
        coar_images *images = NULL;
        probe->nested_generate = coar_generate(probe->engine, &inner, &images);
        snprintf(probe->nested_message, sizeof probe->nested_message, "%s", coar_last_error());
        probe->nested_free = coar_engine_free(probe->engine);
        __atomic_store_n(&probe->started, 1, __ATOMIC_RELEASE);
        while (!__atomic_load_n(&probe->release, __ATOMIC_ACQUIRE)) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

static void *generate_holding(void *arg)
{
    busy_probe *probe = arg;
    coar_generate_options o = small_image("a busy engine", 5);
    o.progress = hold_in_callback;
    o.progress_user_data = probe;
    coar_images *images = NULL;
    OK(coar_generate(probe->engine, &o, &images));
    coar_images_free(images);
    return NULL;
}

typedef struct parallel_job {
    coar_engine *engine;
    coar_images *images;
    coar_status status;
} parallel_job;

static void *generate_on_own_engine(void *arg)
{
    parallel_job *job = arg;
    coar_generate_options o = small_image("two engines at once", 99);
    o.width = o.height = 128;
    job->status = coar_generate(job->engine, &o, &job->images);
    return NULL;
}

static void scenario_threads(void)
{
    busy_probe probe;
    memset(&probe, 0, sizeof probe);
    probe.engine = load_cpu();
    if (!probe.engine) return;
    pthread_t worker;
    pthread_create(&worker, NULL, generate_holding, &probe);
    while (!__atomic_load_n(&probe.started, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    coar_generate_options o = small_image("from another thread", 1);
    coar_images *images = NULL;
    FAILS(coar_generate(probe.engine, &o, &images), COAR_ERROR_BUSY, "in use by coar_generate on another thread");
    FAILS(coar_engine_free(probe.engine), COAR_ERROR_BUSY, "in use by coar_generate");
    int32_t batch;
    FAILS(coar_engine_largest_batch(probe.engine, 768, 768, 1, 4, &batch), COAR_ERROR_BUSY, "in use");
    coar_engine_info info;
    OK(coar_engine_info_get(probe.engine, &info)); /* const functions run alongside */
    __atomic_store_n(&probe.release, 1, __ATOMIC_RELEASE);
    pthread_join(worker, NULL);
    CHECK(probe.nested_generate == COAR_ERROR_BUSY, "nested generate: %s", coar_status_name(probe.nested_generate));
    CHECK(strstr(probe.nested_message, "on this thread") != NULL, "nested message '%s'", probe.nested_message);
    CHECK(probe.nested_free == COAR_ERROR_BUSY, "free from a callback: %s", coar_status_name(probe.nested_free));

    /* The engine survived the refused calls: another thread may use it now that the first is done. */
    parallel_job reference = {probe.engine, NULL, COAR_OK};
    pthread_create(&worker, NULL, generate_on_own_engine, &reference);
    pthread_join(worker, NULL);
    OK(reference.status);

    /* Two engines, two threads, at once: each gives what one engine alone gives. */
    parallel_job jobs[2] = {{load_cpu(), NULL, COAR_OK}, {load_cpu(), NULL, COAR_OK}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, generate_on_own_engine, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        OK(jobs[i].status);
        if (jobs[i].images && reference.images)
            CHECK(same_image(&jobs[i].images->images[0], &reference.images->images[0]), "engine %d in parallel differs", i);
        coar_images_free(jobs[i].images);
        OK(coar_engine_free(jobs[i].engine));
    }
    coar_images_free(reference.images);
    OK(coar_engine_free(probe.engine));
}

/* ---- concepts: train (stopped, then whole), save, load, rename, generate with it ---- */

/* A 24-bit BMP (what every image decoder reads) of an RGB buffer. */
static void write_bmp(const char *path, const uint8_t *rgb, int width, int height)
{
    int row = (width * 3 + 3) & ~3;
    uint32_t size = 54 + (uint32_t)row * height;
    uint8_t header[54] = {'B', 'M'};
    memcpy(header + 2, &size, 4);
    header[10] = 54;
    header[14] = 40;
    memcpy(header + 18, &width, 4);
    memcpy(header + 22, &height, 4);
    header[26] = 1;
    header[28] = 24;
    FILE *f = fopen(path, "wb");
    if (!f) { fail(__FILE__, __LINE__, "cannot write %s", path); return; }
    fwrite(header, 1, 54, f);
    uint8_t *line = calloc(1, (size_t)row);
    for (int y = height - 1; y >= 0; y--) {
        for (int x = 0; x < width; x++) {
            const uint8_t *p = rgb + ((size_t)y * width + x) * 3;
            line[x * 3] = p[2];
            line[x * 3 + 1] = p[1];
            line[x * 3 + 2] = p[0];
        }
        fwrite(line, 1, (size_t)row, f);
    }
    free(line);
    fclose(f);
}

typedef struct step_log {
    int calls;
    int stop_at;
    int last_step;
    int finite;
} step_log;

static int32_t record_step(const coar_train_step *s, void *user)
{
    step_log *log = user;
    log->calls++;
    log->last_step = s->step;
    if (!(s->loss == s->loss) || s->loss <= 0 || s->step_seconds < 0 || s->learning_rate <= 0) log->finite = 0;
    return log->stop_at > 0 && s->step >= log->stop_at;
}

static void scenario_concepts(void)
{
    coar_engine *engine = load_cpu();
    if (!engine) return;

    /* Photos of the "subject": two generated images written as BMP files. */
    coar_generate_options o = small_image("a small red ball", 3);
    o.count = 2;
    coar_images *photos = NULL;
    OK(coar_generate(engine, &o, &photos));
    if (!photos) return;
    char *paths[2] = {work_path("photo0.bmp"), work_path("photo1.bmp")};
    for (int i = 0; i < 2; i++) write_bmp(paths[i], photos->images[i].rgb, 64, 64);
    coar_images_free(photos);

    coar_train_options t = coar_train_options_default(COAR_CONCEPT_SUBJECT);
    CHECK(t.steps == 1000 && t.layers == 0 && strcmp(t.placeholder, "[V]") == 0 && t.prior_preservation == 1 && t.random_crop == 1,
          "subject defaults");
    coar_train_options style = coar_train_options_default(COAR_CONCEPT_STYLE);
    CHECK(style.steps == 600 && style.layers == 0 && strcmp(style.placeholder, "[S]") == 0 && style.prior_preservation == 0,
          "style defaults");

    char *class_cache = work_path("class-cache");
    t.class_noun = "ball";
    t.steps = 4;
    t.layers = 2;
    t.resolution = 64;
    t.class_images = 1;
    t.work_dir = class_cache;
    step_log log = {0, 2, 0, 1};
    t.on_step = record_step;
    t.user_data = &log;
    coar_concept *concept = NULL;
    const char *const photo_paths[] = {paths[0], paths[1]};
    FAILS(coar_train_concept(engine, photo_paths, 2, &t, &concept), COAR_ERROR_CANCELLED, "on_step callback returned nonzero");
    CHECK(log.calls == 2 && concept == NULL, "stopped training: %d steps, handle %p", log.calls, (void *)concept);

    log = (step_log){0, 0, 0, 1};
    OK(coar_train_concept(engine, photo_paths, 2, &t, &concept));
    CHECK(log.calls == 4 && log.last_step == 4 && log.finite, "training steps: %d, last %d", log.calls, log.last_step);
    if (!concept) return;

    coar_concept_info info;
    OK(coar_concept_info_get(concept, &info));
    coar_engine_info engine_info;
    OK(coar_engine_info_get(engine, &engine_info));
    CHECK(info.kind == COAR_CONCEPT_SUBJECT && strcmp(info.placeholder, "[V]") == 0 && strcmp(info.class_noun, "ball") == 0,
          "concept info");
    CHECK(info.depth == 2 && info.text_slots == 1 && info.image_slots == 1 && info.hidden_size == engine_info.hidden_size, "concept shape");
    CHECK(strcmp(info.base_model, engine_info.fingerprint) == 0, "concept base model");

    char *file = work_path("ball.safetensors");
    OK(coar_concept_save(concept, file));
    /* A directory that cannot be made (its parent is a file): an I/O error naming the path. */
    char *under_file = work_path("ball.safetensors/ball.safetensors");
    FAILS(coar_concept_save(concept, under_file), COAR_ERROR_IO, "ball.safetensors/ball.safetensors");
    free(under_file);
    coar_concept *loaded = NULL;
    OK(coar_concept_load(file, engine, &loaded));

    /* The loaded concept generates exactly what the trained one does. */
    coar_generate_options with = small_image("a photo of [V] ball on grass", 11);
    const coar_concept *trained_list[] = {concept};
    with.concepts = trained_list;
    with.concept_count = 1;
    coar_images *a = NULL, *b = NULL;
    OK(coar_generate(engine, &with, &a));
    const coar_concept *loaded_list[] = {loaded};
    with.concepts = loaded_list;
    OK(coar_generate(engine, &with, &b));
    if (a && b) CHECK(same_image(&a->images[0], &b->images[0]), "a saved and loaded concept generates differently");
    coar_images_free(a);
    coar_images_free(b);

    /* A concept bound to another placeholder; the old one is then unknown in the prompt. */
    coar_concept *renamed = NULL;
    OK(coar_concept_with_placeholder(loaded, "[W]", &renamed));
    OK(coar_concept_info_get(renamed, &info));
    CHECK(strcmp(info.placeholder, "[W]") == 0, "renamed placeholder '%s'", info.placeholder);
    const coar_concept *renamed_list[] = {renamed};
    with.concepts = renamed_list;
    FAILS(coar_generate(engine, &with, &a), COAR_ERROR_INVALID_ARGUMENT, "[W]");

    /* Freeing a concept that is no longer needed; then its handle is dead. */
    OK(coar_concept_free(renamed));
    FAILS(coar_concept_free(renamed), COAR_ERROR_INVALID_HANDLE, "freed");
    OK(coar_concept_free(loaded));
    OK(coar_concept_free(concept));
    OK(coar_engine_free(engine));
    for (int i = 0; i < 2; i++) free(paths[i]);
    free(class_cache);
    free(file);
}

/* Two generated 64x64 images written as BMP files: the "photos" of a subject, or reference images. */
static void write_photos(coar_engine *engine, char *paths[2])
{
    coar_generate_options o = small_image("a small red ball", 3);
    o.count = 2;
    coar_images *photos = NULL;
    OK(coar_generate(engine, &o, &photos));
    paths[0] = work_path("photo0.bmp");
    paths[1] = work_path("photo1.bmp");
    if (!photos) return;
    for (int i = 0; i < 2; i++) write_bmp(paths[i], photos->images[i].rgb, 64, 64);
    coar_images_free(photos);
}

/* ---- references: images in the prompt (<|image|>), the instruction switch, bad image files ---- */

static void scenario_references(void)
{
    /* Target 512: references are encoded at their best size for the target, and the smallest is the quickest. */
    coar_load_options options = coar_load_options_default();
    options.device = "cpu";
    options.target_size = 512;
    coar_engine *engine = NULL;
    OK(coar_engine_load(model_dir(), &options, &engine));
    if (!engine) return;
    char *paths[2];
    write_photos(engine, paths);
    const char *const both[] = {paths[0], paths[1]};

    coar_prompt_images defaults = coar_prompt_images_default();
    CHECK(defaults.image_paths == NULL && defaults.image_count == 0 && defaults.instruction == 1, "prompt images defaults");

    /* Default prompt images are coar_generate's prompt exactly. */
    coar_generate_options o = small_image("the same ball on a beach", 21);
    coar_images *plain = NULL, *same = NULL, *with = NULL, *again = NULL, *first = NULL, *bare = NULL;
    OK(coar_generate(engine, &o, &plain));
    OK(coar_generate_with_images(engine, &o, &defaults, &same));
    OK(coar_generate_with_images(engine, &o, NULL, &bare));
    if (plain && same && bare) {
        CHECK(same_image(&plain->images[0], &same->images[0]), "no images differs from coar_generate");
        CHECK(same_image(&plain->images[0], &bare->images[0]), "images NULL differs from coar_generate");
    }
    coar_images_free(same);
    coar_images_free(bare);

    /* One image at its <|image|>: a different prompt, the same image-phase layout, reproducible. */
    coar_prompt_images refs = coar_prompt_images_default();
    refs.image_paths = both;
    refs.image_count = 1;
    o.prompt = "<|image|> the same ball on a beach";
    OK(coar_generate_with_images(engine, &o, &refs, &with));
    OK(coar_generate_with_images(engine, &o, &refs, &again));
    if (plain && with && again) {
        CHECK(with->images[0].token_count == plain->images[0].token_count, "image tokens %d vs %d", with->images[0].token_count,
              plain->images[0].token_count);
        CHECK(same_image(&with->images[0], &again->images[0]), "the same reference and seed gave different images");
        CHECK(!same_image(&with->images[0], &plain->images[0]), "the reference image changed nothing");
    }

    /* Two images and no <|image|>: both go first; without the instruction too; count 2 shares the encoded images. */
    o.prompt = "the same ball on a beach";
    o.count = 2;
    refs.image_count = 2;
    OK(coar_generate_with_images(engine, &o, &refs, &first));
    if (first) CHECK(first->count == 2 && first->images[1].seed == 22, "two images with references");
    coar_images_free(first);
    refs.instruction = 0;
    refs.image_count = 1;
    o.count = 1;
    OK(coar_generate_with_images(engine, &o, &refs, &first));
    coar_images_free(first);

    /* Bad input: each refused before generating, naming the file or option; the output stays unwritten. */
    coar_images *untouched = (coar_images *)0x1;
    const char *missing[] = {"/nonexistent/reference.png"};
    refs = coar_prompt_images_default();
    refs.image_paths = missing;
    refs.image_count = 1;
    FAILS(coar_generate_with_images(engine, &o, &refs, &untouched), COAR_ERROR_NOT_FOUND, "/nonexistent/reference.png");
    char config[4096];
    snprintf(config, sizeof config, "%s/config.json", model_dir());
    const char *not_image[] = {config};
    refs.image_paths = not_image;
    FAILS(coar_generate_with_images(engine, &o, &refs, &untouched), COAR_ERROR_BAD_FILE, "config.json");
    o.prompt = "<|image|> and <|image|>";
    refs.image_paths = both;
    FAILS(coar_generate_with_images(engine, &o, &refs, &untouched), COAR_ERROR_INVALID_ARGUMENT, "image_count is 1");
    refs.image_paths = NULL;
    FAILS(coar_generate_with_images(engine, &o, &refs, &untouched), COAR_ERROR_INVALID_ARGUMENT, "image_paths is NULL");
    CHECK(untouched == (coar_images *)0x1, "a failed generate wrote its output");

    coar_images_free(plain);
    coar_images_free(with);
    coar_images_free(again);
    OK(coar_engine_free(engine));
    for (int i = 0; i < 2; i++) free(paths[i]);
}

/* ---- methods: textual inversion, LoRA, PersonalAR; applying their weights to an engine; bad weight files ---- */

static coar_train_options tiny_training(coar_train_method method, const char *class_cache)
{
    coar_train_options t = coar_train_options_for_method(method);
    t.class_noun = "ball";
    t.steps = 2;
    t.resolution = 64;
    t.prior_preservation = 0;
    t.work_dir = class_cache;
    return t;
}

static void scenario_methods(void)
{
    coar_engine *engine = load_cpu();
    if (!engine) return;
    char *paths[2];
    write_photos(engine, paths);
    const char *const photos[] = {paths[0], paths[1]};
    char *class_cache = work_path("class-cache");
    char *lora_dir = work_path("ball-lora");
    char *personal_dir = work_path("ball-personalar");

    /* Each method's defaults. */
    coar_train_options ti = coar_train_options_for_method(COAR_METHOD_TEXTUAL_INVERSION);
    CHECK(ti.steps == 1500 && ti.layers == 1 && ti.text_slots == 1 && ti.image_slots == 0 && ti.prior_preservation == 0 &&
          ti.self_regularization == 0 && strcmp(ti.placeholder, "[V]") == 0, "textual inversion defaults");
    coar_train_options lora = coar_train_options_for_method(COAR_METHOD_LORA);
    CHECK(strcmp(lora.placeholder, "sks") == 0 && lora.text_slots == 0 && lora.image_slots == 0 && lora.self_regularization == 0 &&
          lora.learning_rate < 1e-3f, "LoRA defaults");
    coar_train_options coar = coar_train_options_for_method(COAR_METHOD_COAR);
    coar_train_options subject = coar_train_options_default(COAR_CONCEPT_SUBJECT);
    CHECK(coar.steps == subject.steps && coar.prior_preservation == subject.prior_preservation, "CoAR defaults");
    coar_method_options m = coar_method_options_default(COAR_METHOD_PERSONALAR);
    CHECK(m.method == COAR_METHOD_PERSONALAR && m.lora_rank == 0 && m.targets == NULL && m.output_dir == NULL, "method defaults");

    /* Textual inversion: a concept of the [V] input embedding alone. */
    coar_train_options t = tiny_training(COAR_METHOD_TEXTUAL_INVERSION, class_cache);
    m = coar_method_options_default(COAR_METHOD_TEXTUAL_INVERSION);
    coar_concept *embedding = NULL;
    step_log log = {0, 0, 0, 1};
    t.on_step = record_step;
    t.user_data = &log;
    OK(coar_train(engine, photos, 2, &t, &m, &embedding));
    CHECK(log.calls == 2 && log.finite, "textual inversion steps: %d", log.calls);
    if (embedding) {
        coar_concept_info info;
        OK(coar_concept_info_get(embedding, &info));
        CHECK(info.depth == 1 && info.text_slots == 1 && info.image_slots == 0, "textual inversion concept %d/%d/%d", info.depth,
              info.text_slots, info.image_slots);
        OK(coar_concept_free(embedding));
    }

    /* LoRA: PEFT's two files in the output directory, no concept. */
    t = tiny_training(COAR_METHOD_LORA, class_cache);
    m = coar_method_options_default(COAR_METHOD_LORA);
    m.lora_rank = 2;
    m.lora_alpha = 4;
    m.targets = "q,v";
    m.output_dir = lora_dir;
    coar_concept *none = (coar_concept *)0x1;
    OK(coar_train(engine, photos, 2, &t, &m, &none));
    CHECK(none == NULL, "LoRA returned a concept");
    char file[4096];
    snprintf(file, sizeof file, "%s/adapter_model.safetensors", lora_dir);
    CHECK(file_exists(file), "%s missing", file);
    snprintf(file, sizeof file, "%s/adapter_config.json", lora_dir);
    CHECK(file_exists(file), "%s missing", file);
    OK(coar_train(engine, photos, 2, &t, &m, NULL)); /* concept may be NULL for LoRA */

    /* PersonalAR, full q/k/v fine-tuning in stage 2: concept and projections in the directory, the final [V] returned. */
    t = tiny_training(COAR_METHOD_PERSONALAR, class_cache);
    m = coar_method_options_default(COAR_METHOD_PERSONALAR);
    m.stage2_steps = 2;
    m.stage2_learning_rate = 1e-2f; /* large enough that the changed weights show in a 64x64 image */
    m.output_dir = personal_dir;
    log = (step_log){0, 0, 0, 1};
    t.on_step = record_step;
    t.user_data = &log;
    coar_concept *personal = NULL;
    OK(coar_train(engine, photos, 2, &t, &m, &personal));
    CHECK(log.calls == 4, "PersonalAR: %d steps over both stages, expected 4", log.calls);
    snprintf(file, sizeof file, "%s/concept.safetensors", personal_dir);
    CHECK(file_exists(file), "%s missing", file);
    snprintf(file, sizeof file, "%s/projections.safetensors", personal_dir);
    CHECK(file_exists(file), "%s missing", file);

    /* Bad training input: each names the option. */
    coar_concept *untouched = NULL;
    m = coar_method_options_default(COAR_METHOD_LORA);
    t = tiny_training(COAR_METHOD_LORA, class_cache);
    FAILS(coar_train(engine, photos, 2, &t, &m, &untouched), COAR_ERROR_INVALID_ARGUMENT, "output_dir is NULL");
    m.output_dir = file; /* a file */
    FAILS(coar_train(engine, photos, 2, &t, &m, &untouched), COAR_ERROR_INVALID_ARGUMENT, "is a file");
    m.output_dir = lora_dir;
    m.targets = "q,x";
    FAILS(coar_train(engine, photos, 2, &t, &m, &untouched), COAR_ERROR_INVALID_ARGUMENT, "'x'");
    m = coar_method_options_default((coar_train_method)9);
    FAILS(coar_train(engine, photos, 2, &t, &m, &untouched), COAR_ERROR_INVALID_ARGUMENT, "method->method is 9");
    m = coar_method_options_default(COAR_METHOD_TEXTUAL_INVERSION);
    m.output_dir = lora_dir;
    t = tiny_training(COAR_METHOD_TEXTUAL_INVERSION, class_cache);
    FAILS(coar_train(engine, photos, 2, &t, &m, &untouched), COAR_ERROR_INVALID_ARGUMENT, "output_dir is set");
    m.output_dir = NULL;
    t.kind = COAR_CONCEPT_STYLE;
    FAILS(coar_train(engine, photos, 2, &t, &m, &untouched), COAR_ERROR_INVALID_ARGUMENT, "COAR_CONCEPT_STYLE");
    FAILS(coar_train(engine, photos, 2, &t, NULL, &untouched), COAR_ERROR_INVALID_ARGUMENT, "method is NULL");
    CHECK(untouched == NULL, "a failed training wrote its output");
    OK(coar_engine_free(engine));

    /* Applying the weights to a fresh engine: projections, then the LoRA adapter on top, then generating with [V]. */
    engine = load_cpu();
    if (!engine) return;
    coar_engine_weights w = {COAR_LORA_MERGED, 1};
    OK(coar_engine_weights_get(engine, &w));
    CHECK(w.lora == COAR_LORA_NONE && w.projections == 0, "a loaded engine has no adapted weights");
    coar_images *base = NULL, *adapted = NULL;
    coar_generate_options o = small_image("a photo of [V] ball", 5);
    const coar_concept *list[] = {personal};
    o.concepts = list;
    o.concept_count = 1;
    OK(coar_generate(engine, &o, &base));

    /* Bad weight files first: each refused, naming the file, the engine unchanged. */
    const char *missing[] = {"/nonexistent/adapter"};
    FAILS(coar_engine_apply_lora(engine, missing, 1, 0), COAR_ERROR_NOT_FOUND, "/nonexistent/adapter");
    const char *some_missing[] = {lora_dir, "/nonexistent/second"};
    FAILS(coar_engine_apply_lora(engine, some_missing, 2, 0), COAR_ERROR_NOT_FOUND, "/nonexistent/second");
    FAILS(coar_engine_apply_lora(engine, missing, 0, 0), COAR_ERROR_INVALID_ARGUMENT, "count is 0");
    const char *not_adapter[] = {personal_dir};
    FAILS(coar_engine_apply_lora(engine, not_adapter, 1, 0), COAR_ERROR_NOT_FOUND, "adapter_model.safetensors");
    FAILS(coar_engine_apply_projections(engine, "/nonexistent/projections.safetensors"), COAR_ERROR_NOT_FOUND,
          "/nonexistent/projections.safetensors");
    snprintf(file, sizeof file, "%s/concept.safetensors", personal_dir);
    FAILS(coar_engine_apply_projections(engine, file), COAR_ERROR_BAD_FILE, "concept.safetensors");
    char config[4096];
    snprintf(config, sizeof config, "%s/config.json", model_dir());
    FAILS(coar_engine_apply_projections(engine, config), COAR_ERROR_BAD_FILE, "config.json");
    FAILS(coar_engine_apply_projections(engine, NULL), COAR_ERROR_INVALID_ARGUMENT, "path is NULL");
    OK(coar_engine_weights_get(engine, &w));
    CHECK(w.lora == COAR_LORA_NONE && w.projections == 0, "a failed apply changed the engine");

    OK(coar_engine_apply_projections(engine, personal_dir)); /* the directory: its projections.safetensors */
    const char *adapters[] = {lora_dir};
    OK(coar_engine_apply_lora(engine, adapters, 1, 0));
    OK(coar_engine_weights_get(engine, &w));
    CHECK(w.lora == COAR_LORA_UNMERGED && w.projections == 1, "weights after applying: lora %d, projections %d", w.lora, w.projections);
    FAILS(coar_engine_apply_projections(engine, personal_dir), COAR_ERROR_INVALID_ARGUMENT, "LoRA adapters applied");
    FAILS(coar_engine_apply_lora(engine, adapters, 1, 1), COAR_ERROR_INVALID_ARGUMENT, "already has LoRA adapters");
    OK(coar_generate(engine, &o, &adapted));
    if (base && adapted) CHECK(!same_image(&base->images[0], &adapted->images[0]), "the fine-tuned weights changed nothing");
    coar_images_free(base);
    coar_images_free(adapted);
    OK(coar_engine_free(engine));

    /* Merged into another engine. */
    engine = load_cpu();
    if (engine) {
        OK(coar_engine_apply_lora(engine, adapters, 1, 1));
        OK(coar_engine_weights_get(engine, &w));
        CHECK(w.lora == COAR_LORA_MERGED && w.projections == 0, "merged: lora %d", w.lora);
        o = small_image("a photo of sks ball", 5);
        OK(coar_generate(engine, &o, &adapted));
        coar_images_free(adapted);
        OK(coar_engine_free(engine));
    }

    OK(coar_concept_free(personal));
    for (int i = 0; i < 2; i++) free(paths[i]);
    free(class_cache);
    free(lora_dir);
    free(personal_dir);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: coar_test library|errors|generate|cancel|threads|concepts|references|methods WORK_DIR\n");
        return 2;
    }
    work_dir = argv[2];
    const char *scenario = argv[1];
    if (strcmp(scenario, "library") == 0) scenario_library();
    else if (strcmp(scenario, "errors") == 0) scenario_errors();
    else if (strcmp(scenario, "generate") == 0) scenario_generate();
    else if (strcmp(scenario, "cancel") == 0) scenario_cancel();
    else if (strcmp(scenario, "threads") == 0) scenario_threads();
    else if (strcmp(scenario, "concepts") == 0) scenario_concepts();
    else if (strcmp(scenario, "references") == 0) scenario_references();
    else if (strcmp(scenario, "methods") == 0) scenario_methods();
    else {
        fprintf(stderr, "unknown scenario '%s'\n", scenario);
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", scenario, failures);
        return 1;
    }
    printf("%s: ok\n", scenario);
    return 0;
}
