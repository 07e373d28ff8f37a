/*
 * coar.h: the C API of CoAR.Engine (libcoar.so).
 *
 * Generate images with Lumina-mGPT and train CoAR concepts from C, C++, Rust, Go, Python (ctypes) or any host that
 * can call C. The library is the engine compiled ahead of time (.NET NativeAOT): it needs no .NET installation.
 *
 * API version 1.1 (COAR_API_VERSION_MAJOR.COAR_API_VERSION_MINOR). A minor version only adds functions, new structs
 * and enums for them, and status codes (the structs of an earlier minor version never change); a major version may
 * change structs and signatures. 1.1 added adapted weights (LoRA adapters, fine-tuned projections), reference images
 * in the prompt, and the training methods beyond CoAR (textual inversion, LoRA, PersonalAR). Check at run time that the library you loaded speaks
 * the version you compiled against:
 *
 *     if (coar_api_version() / 1000 != COAR_API_VERSION_MAJOR) { ... refuse ... }
 *
 * Errors. Every function that can fail returns a coar_status; COAR_OK (0) is success. On failure,
 * coar_last_error() gives a message naming what was wrong (the file, tensor, argument or option, and what was
 * expected). Nothing an engine or concept handle held is lost or half-changed by a failed call, and no output
 * pointer is written unless the call succeeds. No C++ or .NET exception ever leaves the library.
 *
 * Memory. Handles (coar_engine, coar_concept) and results (coar_images) are made by the library and freed only by
 * the library's own free functions. Strings the library returns are owned by the library; each function says how
 * long one stays valid. Strings passed in are UTF-8, NUL-terminated, and only read during the call.
 *
 * Threading.
 *  - An engine handle is used by one thread at a time. Any thread may use it, one call after another, but a call on
 *    an engine while another call on the same engine is running (on another thread, or from inside a callback of
 *    that call) is refused with COAR_ERROR_BUSY and changes nothing. The functions that take a `const coar_engine *`
 *    only read what loading fixed and may run alongside any other call.
 *  - Different engine handles work in parallel, each on its own thread.
 *  - Concept handles are immutable: use one from any number of threads and engines at once. Freeing a concept while
 *    a coar_generate call uses it is safe: the call keeps its own reference until it returns.
 *  - Callbacks run on the thread that made the call, synchronously, before the call returns.
 *  - coar_last_error() is per thread: a failure on one thread never overwrites another thread's message.
 *
 * Cancellation. The long calls (load, generate, train) take an optional cancel flag, a pointer to an int32_t that
 * any thread may set to nonzero; the library polls it every few milliseconds and the call then stops at the next
 * safe point with COAR_ERROR_CANCELLED (loading: after the current tensor; generating: after the current decode
 * step; training: before the next step, or during the class-image generation that precedes training). Their
 * callbacks can also stop them by returning nonzero. A cancelled call leaves no handle and no half-written file behind.
 */
#ifndef COAR_H
#define COAR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COAR_API_VERSION_MAJOR 1
#define COAR_API_VERSION_MINOR 1
/* What coar_api_version() returns for this header: major * 1000 + minor. */
#define COAR_API_VERSION (COAR_API_VERSION_MAJOR * 1000 + COAR_API_VERSION_MINOR)

typedef enum coar_status {
    COAR_OK = 0,
    /* An argument is NULL where a value is required, a number is out of range, or a prompt or option is invalid. */
    COAR_ERROR_INVALID_ARGUMENT = 1,
    /* A handle is NULL, already freed, or not a handle of that kind. */
    COAR_ERROR_INVALID_HANDLE = 2,
    /* A file or directory does not exist. */
    COAR_ERROR_NOT_FOUND = 3,
    /* A model, tokenizer, VQGAN, concept or image file is malformed, or does not fit the model. */
    COAR_ERROR_BAD_FILE = 4,
    /* The requested device (a GPU) is unavailable, or it failed. */
    COAR_ERROR_DEVICE = 5,
    /* Host or device memory ran out. */
    COAR_ERROR_OUT_OF_MEMORY = 6,
    /* The cancel flag was set, or a callback returned nonzero. */
    COAR_ERROR_CANCELLED = 7,
    /* The engine handle is in use by another call (see Threading above). */
    COAR_ERROR_BUSY = 8,
    /* Reading or writing a file failed (permissions, disk full, ...). */
    COAR_ERROR_IO = 9,
    /* Something the engine did not foresee: a bug. The message says what happened. */
    COAR_ERROR_INTERNAL = 10
} coar_status;

/* An engine: a loaded model (transformer, tokenizer, VQGAN) on a device. */
typedef struct coar_engine coar_engine;

/* A concept: learned per-layer context tokens for a subject or a style, bound to a placeholder such as "[V]". */
typedef struct coar_concept coar_concept;

/* ---- the library ---- */

/* The library's version, e.g. "0.1.0+<commit>". Static storage. */
const char *coar_version(void);

/* The API version the library implements: major * 1000 + minor (compare with COAR_API_VERSION). */
int32_t coar_api_version(void);

/* The message of the last call on this thread that failed, or "" if none has. Owned by the library; valid until
   the next failing call on this thread. Never NULL. */
const char *coar_last_error(void);

/* The name of a status ("COAR_ERROR_NOT_FOUND"), or "COAR_STATUS_UNKNOWN". Static storage. */
const char *coar_status_name(coar_status status);

/* The built-in tiny model's directory, created on first use (in $COAR_HOME, else $XDG_CACHE_HOME/coar, else
   ~/.cache/coar; safe against concurrent callers and processes). It has the real Lumina-mGPT layout, tokenizer and
   VQGAN structure but tiny widths and random weights: its pictures are noise. *model_dir is owned by the library
   and valid until the process ends. */
coar_status coar_builtin_model(const char **model_dir);

/* ---- progress ---- */

typedef enum coar_phase {
    COAR_PHASE_LOAD = 0,     /* loading weights: step/steps count tensors, done/total count bytes */
    COAR_PHASE_GENERATE = 1  /* generating: step/steps count decode steps, done/total count image tokens */
} coar_phase;

typedef struct coar_progress {
    coar_phase phase;
    int32_t step;
    int32_t steps;
    int64_t done;
    int64_t total;
    double elapsed_seconds;
    /* COAR_PHASE_LOAD: the tensor just loaded; otherwise NULL. Valid during the callback only. */
    const char *item;
} coar_progress;

/* Called as a long call advances. Return 0 to go on, nonzero to stop the call (it returns COAR_ERROR_CANCELLED). */
typedef int32_t (*coar_progress_fn)(const coar_progress *progress, void *user_data);

/* ---- engines ---- */

typedef struct coar_load_options {
    const char *device;          /* "auto" (CUDA where it works, else the CPU), "cpu", "cuda", "cuda:N". NULL: "auto" */
    const char *vqgan_dir;       /* where vqgan.safetensors and vqgan.json are; NULL: the model directory */
    int32_t target_size;         /* the checkpoint's training resolution (512, 768, 1024): bounds the image area */
    coar_progress_fn progress;   /* optional */
    void *progress_user_data;
    const volatile int32_t *cancel; /* optional cancel flag */
} coar_load_options;

/* Defaults: device NULL ("auto"), vqgan_dir NULL, target_size 768, no callback, no cancel flag. */
coar_load_options coar_load_options_default(void);

/* Loads a Lumina-mGPT checkpoint directory (config.json, model*.safetensors, tokenizer.json, vqgan.*).
   options may be NULL (the defaults). On success *engine is a new handle; free it with coar_engine_free. */
coar_status coar_engine_load(const char *model_dir, const coar_load_options *options, coar_engine **engine);

/* Frees an engine and everything it holds (weights, caches, device memory). NULL is accepted and does nothing.
   Refused with COAR_ERROR_BUSY while a call on the engine runs. */
coar_status coar_engine_free(coar_engine *engine);

typedef struct coar_engine_info {
    const char *device;          /* the backend in use, e.g. "cpu (2 threads)" or "cuda:0 NVIDIA H100" */
    const char *fallback_reason; /* why device "auto" ended on the CPU, or NULL */
    const char *fingerprint;     /* identifies the base model; concepts record it */
    int32_t target_size;
    int32_t layers;
    int32_t hidden_size;
    int32_t vocab_size;
} coar_engine_info;

/* What an engine runs on. The strings are owned by the engine and valid until it is freed. */
coar_status coar_engine_info_get(const coar_engine *engine, coar_engine_info *info);

/* ---- memory ---- */

typedef struct coar_memory_estimate {
    int64_t weight_bytes;
    int64_t kv_cache_bytes;
    int64_t activation_bytes;
    int64_t total_bytes;
    int32_t rows;            /* sequences in the batch: images, twice that with guidance */
    int32_t tokens_per_row;  /* prompt budget (128 tokens) + the image's tokens */
} coar_memory_estimate;

/* Memory to generate `images` images of width x height (multiples of 16) at once, with guidance (CFG) rows if
   `guided`, before loading anything: reads only the checkpoint's headers. `device` is "cpu" (fp32 activations) or
   "cuda" (bf16). */
coar_status coar_estimate_memory(const char *model_dir, const char *device, int32_t images, int32_t width,
                                 int32_t height, int32_t guided, coar_memory_estimate *estimate);

/* The same for a loaded engine, on its own device. */
coar_status coar_engine_estimate_memory(const coar_engine *engine, int32_t images, int32_t width, int32_t height,
                                        int32_t guided, coar_memory_estimate *estimate);

/* The largest batch (at most `cap`, at least 1) whose KV cache and activations fit in the device's free memory. */
coar_status coar_engine_largest_batch(coar_engine *engine, int32_t width, int32_t height, int32_t guided,
                                      int32_t cap, int32_t *batch);

/* ---- generation ---- */

typedef struct coar_generate_options {
    const char *prompt;           /* the caption; concepts' placeholders ("[V]", "[S]") appear in it */
    int32_t width;                /* pixels: multiples of 32, at most (target_size / 32)^2 cells of 32 x 32, */
    int32_t height;               /* aspect ratio at most 4 */
    int32_t count;                /* images, generated together in one batch; image i gets seed + i */
    uint64_t seed;
    float cfg;                    /* classifier-free guidance scale; 1: no guidance (no unconditional rows) */
    int32_t top_k;                /* image tokens kept per draw; 0 keeps all */
    float temperature;            /* > 0 */
    const coar_concept *const *concepts; /* concept_count handles, or NULL */
    int32_t concept_count;
    int32_t identity_mask;        /* 1: different concepts' tokens never attend to each other (default) */
    coar_progress_fn progress;    /* optional: called after every decode step */
    void *progress_user_data;
    const volatile int32_t *cancel; /* optional cancel flag */
} coar_generate_options;

/* Defaults: prompt NULL (set it), 768 x 768, count 1, seed 0, cfg 4, top_k 2000, temperature 1, no concepts,
   identity mask on, no callback, no cancel flag (the CoAR paper's settings on Lumina-mGPT). */
coar_generate_options coar_generate_options_default(void);

typedef struct coar_image {
    int32_t width;
    int32_t height;
    uint8_t *rgb;                 /* width * height * 3 bytes: RGB, row-major, top row first */
    int32_t *tokens;              /* the image-phase tokens: header, rows, end of image, end of turn */
    int32_t token_count;
    uint64_t seed;                /* generating with this seed alone reproduces this image */
} coar_image;

typedef struct coar_images {
    int32_t count;
    coar_image *images;
    double prefill_seconds;
    double decode_seconds;
} coar_images;

/* Generates options->count images of one prompt in one batch. On success *images holds them; free with
   coar_images_free (once). The same engine, options and seed give the same pixels and tokens. */
coar_status coar_generate(coar_engine *engine, const coar_generate_options *options, coar_images **images);

/* Frees what coar_generate returned. NULL is accepted. */
void coar_images_free(coar_images *images);

/* ---- concepts ---- */

typedef enum coar_concept_kind {
    COAR_CONCEPT_SUBJECT = 0,
    COAR_CONCEPT_STYLE = 1
} coar_concept_kind;

typedef struct coar_concept_info {
    coar_concept_kind kind;
    const char *placeholder;      /* "[V]" */
    const char *class_noun;       /* "dog"; a style's name */
    const char *base_model;       /* the fingerprint of the model it was trained on */
    int32_t depth;                /* layers it injects into, from the first */
    int32_t text_slots;           /* tokens per layer at the placeholder */
    int32_t image_slots;          /* tokens per layer before the image */
    int32_t hidden_size;
} coar_concept_info;

/* Loads a concept file (safetensors, format coar-concept/1). With an engine, refuses a concept trained on another
   base model (COAR_ERROR_BAD_FILE); engine may be NULL. Free the handle with coar_concept_free. */
coar_status coar_concept_load(const char *path, const coar_engine *engine, coar_concept **concept);

/* Writes a concept file atomically (a temp file renamed into place: a failed save leaves no partial file). */
coar_status coar_concept_save(const coar_concept *concept, const char *path);

/* The same tokens bound to another placeholder, as a new handle (to combine two concepts trained with the same one). */
coar_status coar_concept_with_placeholder(const coar_concept *concept, const char *placeholder, coar_concept **renamed);

/* What a concept is. The strings are owned by the concept and valid until it is freed. */
coar_status coar_concept_info_get(const coar_concept *concept, coar_concept_info *info);

/* Frees a concept handle. NULL is accepted. */
coar_status coar_concept_free(coar_concept *concept);

/* ---- training ---- */

typedef struct coar_train_step {
    int32_t step;                 /* steps done, 1-based */
    int32_t steps;
    double loss;                  /* total: NTP + alpha DPP + beta CASR */
    double ntp_loss;
    double dpp_loss;
    double casr_loss;
    float learning_rate;
    double step_seconds;
} coar_train_step;

/* Called after every training step. Return 0 to go on, nonzero to stop (coar_train_concept then returns
   COAR_ERROR_CANCELLED and no concept). */
typedef int32_t (*coar_train_step_fn)(const coar_train_step *step, void *user_data);

typedef struct coar_train_options {
    coar_concept_kind kind;
    const char *class_noun;       /* required: "dog" for a subject; the style's name for a style */
    const char *placeholder;      /* "[V]" (subjects) / "[S]" (styles) */
    int32_t steps;
    int32_t layers;               /* depth: the first N layers get context tokens; 0: the kind's (9 subject, 3 style),
                                     clamped to the model's layers */
    int32_t text_slots;
    int32_t image_slots;
    float learning_rate;
    int32_t resolution;           /* training crops, a multiple of 32; 0: the engine's target size */
    int32_t prior_preservation;   /* DPP on class images the frozen model makes (subjects) */
    int32_t class_images;
    int32_t self_regularization;  /* CASR */
    int32_t accumulation;         /* passes per optimizer step */
    int32_t random_crop;          /* 1: a fresh seeded random crop each time a photo is drawn; 0: the center crop */
    int32_t seed;
    /* Where DPP's class images are cached and reused by later runs; NULL: the cache directory of
       coar_builtin_model (COAR_HOME, ...). */
    const char *work_dir;
    coar_train_step_fn on_step;   /* optional */
    void *user_data;
    const volatile int32_t *cancel; /* optional cancel flag */
} coar_train_options;

/* The CoAR paper's settings for a kind (the optimizer otherwise follows Lumina-mGPT's fine-tuning recipe). Subject:
   "[V]", 1000 steps, layers 0 (9), 1 text + 1 image token, lr 1e-2, resolution 0 (the engine's target size), DPP with
   8 class images, CASR, accumulation 1, random crops, seed 0. Style: "[S]", 600 steps, layers 0 (3), no DPP.
   class_noun is NULL: set it. */
coar_train_options coar_train_options_default(coar_concept_kind kind);

/* Trains a concept from image files (JPEG, PNG, ...: a subject's photos, or a style reference). On success
   *concept is a new handle (save it with coar_concept_save). */
coar_status coar_train_concept(coar_engine *engine, const char *const *image_paths, int32_t image_count,
                               const coar_train_options *options, coar_concept **concept);

/* ---- adapted weights (API 1.1) ---- */

/* Puts fine-tuned projection weights in place of the loaded ones for every later generation on this engine: a
   safetensors file of full weights under the checkpoint's names (model.layers.N.self_attn.q_proj.weight, ...), e.g.
   PersonalAR's projections.safetensors, or a directory holding that file. Checked against the model first (every
   tensor's layer and shape, the base model it was fine-tuned from): a file that does not fit is COAR_ERROR_BAD_FILE
   naming the file and tensor, and changes nothing. The engine cannot go back to the base weights (load a new one).
   Call it before coar_engine_apply_lora (the adapters then go on top); after one it is COAR_ERROR_INVALID_ARGUMENT. */
coar_status coar_engine_apply_projections(coar_engine *engine, const char *path);

/* Applies `count` LoRA adapters in Hugging Face PEFT's layout (each a directory with adapter_model.safetensors and
   adapter_config.json, or that .safetensors file with the config beside it) to every later generation. merge 0:
   unmerged, each adapted projection adds the adapters' low-rank terms at every step and the weights stay as loaded;
   merge 1: folded into the loaded weights once (W += scale B A; no per-step cost, cannot be undone). Every adapter is
   read and checked against the model before any is applied: a missing one is COAR_ERROR_NOT_FOUND, a malformed one
   or one that does not fit COAR_ERROR_BAD_FILE, each naming the file, and nothing is applied. Once per engine. */
coar_status coar_engine_apply_lora(coar_engine *engine, const char *const *adapter_dirs, int32_t count, int32_t merge);

typedef enum coar_lora_mode {
    COAR_LORA_NONE = 0,
    COAR_LORA_UNMERGED = 1,
    COAR_LORA_MERGED = 2
} coar_lora_mode;

typedef struct coar_engine_weights {
    coar_lora_mode lora;          /* how LoRA adapters apply to this engine's generations */
    int32_t projections;          /* 1: fine-tuned projection weights replaced loaded ones */
} coar_engine_weights;

/* What an engine's generations run with besides the loaded checkpoint. */
coar_status coar_engine_weights_get(const coar_engine *engine, coar_engine_weights *weights);

/* ---- reference images in the prompt (API 1.1) ---- */

typedef struct coar_prompt_images {
    /* Image files (JPEG, PNG, BMP, ...) for Lumina-mGPT's <|image|> in the prompt: each <|image|> takes the next
       file; when the prompt has none, all go first, before the instruction (as Lumina-mGPT places them). Each is
       center-cropped to its best size for the engine's target and VQGAN-encoded once per call. NULL with count 0:
       none. */
    const char *const *image_paths;
    int32_t image_count;
    int32_t instruction;          /* 1: the text-to-image instruction before the caption (default); 0: none (editing
                                     and other image-conditioned prompts of the Omni checkpoints) */
} coar_prompt_images;

/* Defaults: no images, instruction 1. */
coar_prompt_images coar_prompt_images_default(void);

/* coar_generate with reference images and the instruction setting (images may be NULL: coar_generate's prompt). A
   missing image file is COAR_ERROR_NOT_FOUND, an undecodable one COAR_ERROR_BAD_FILE, each naming the file; a prompt
   whose <|image|> symbols do not match image_count is COAR_ERROR_INVALID_ARGUMENT (before any image is read). */
coar_status coar_generate_with_images(coar_engine *engine, const coar_generate_options *options,
                                      const coar_prompt_images *images, coar_images **result);

/* ---- training methods (API 1.1) ---- */

typedef enum coar_train_method {
    COAR_METHOD_COAR = 0,               /* CoAR context tokens: what coar_train_concept trains */
    COAR_METHOD_TEXTUAL_INVERSION = 1,  /* PersonalAR's stage 1: the [V] input embedding alone (a concept of depth 1) */
    COAR_METHOD_LORA = 2,               /* LoRA adapters on method->targets of every layer, written in PEFT's layout */
    COAR_METHOD_PERSONALAR = 3          /* textual inversion, then the [V] embedding with q/k/v (full or LoRA) */
} coar_train_method;

typedef struct coar_method_options {
    coar_train_method method;
    int32_t lora_rank;            /* LoRA (and PersonalAR with stage2_lora): the adapters' rank r; 0: 64 */
    float lora_alpha;             /* PEFT's lora_alpha, the term is scaled by alpha / r; 0: r (scale 1) */
    const char *targets;          /* adapted (PersonalAR full: fine-tuned) projections, comma-separated among q, k, v,
                                     o, gate, up, down; NULL: "q,k,v" */
    int32_t stage2_lora;          /* PersonalAR's stage 2: 0 fine-tunes the weights themselves, 1 LoRA on them */
    int32_t stage2_steps;         /* PersonalAR's stage 2 steps (coar_train_options' steps are stage 1's); 0: 400 */
    float stage2_learning_rate;   /* PersonalAR's stage 2; 0: 1e-5 (full) or 1e-4 (LoRA) */
    /* LoRA: the adapter's directory (adapter_model.safetensors + adapter_config.json); PersonalAR: a directory that
       gets concept.safetensors and projections.safetensors (or the adapter's files), stage 1's concept and
       checkpoints (a rerun resumes). Required for those two; must be NULL for CoAR and textual inversion (save the
       returned concept with coar_concept_save). */
    const char *output_dir;
} coar_method_options;

/* Defaults for a method: rank 0 (64), alpha 0 (r), targets NULL (q,k,v), stage2_lora 0, stage2_steps 0 (400),
   stage2_learning_rate 0, output_dir NULL. */
coar_method_options coar_method_options_default(coar_train_method method);

/* The concept part's defaults for a method (a subject): CoAR as coar_train_options_default(COAR_CONCEPT_SUBJECT);
   textual inversion and PersonalAR (stage 1): 1500 steps, layers 1, 1 text + 0 image tokens, lr 1e-2, no DPP or
   CASR (the prompt is drawn from PersonalAR's template list); LoRA: placeholder "sks" (plain text), 1000 steps,
   layers 0, no context tokens, lr 1e-4, DPP with 8 class images, no CASR. */
coar_train_options coar_train_options_for_method(coar_train_method method);

/* Trains by a method from image files, with options (the concept part, coar_train_options_for_method) and method
   (coar_method_options_default). *concept gets the trained concept (CoAR, textual inversion, PersonalAR's final
   [V]; PersonalAR also writes it to output_dir); for LoRA there is none: concept may be NULL, and is set to NULL.
   on_step is called after every step (PersonalAR: stage 1's, then stage 2's). */
coar_status coar_train(coar_engine *engine, const char *const *image_paths, int32_t image_count,
                       const coar_train_options *options, const coar_method_options *method, coar_concept **concept);

#ifdef __cplusplus
}
#endif

#endif /* COAR_H */
