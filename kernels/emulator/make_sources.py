"""Copies kernels/*.cu and *.cuh into OUT for the CPU emulator: common.cuh's inline-PTX primitives (ldmatrix, mma,
cp.async, wide loads, ex2, the shared-window address) are cut out and cuda_emulation.h is included in their place;
reinterpret_cast becomes emu_cast (the same cast, with the GPU's alignment check); extern __shared__ arrays become
pointers to the launch's dynamic shared memory. Everything else (tile layouts,
fragment helpers, the kernels themselves) is compiled exactly as written.
Usage: make_sources.py KERNELS_DIR OUT_DIR"""
import os
import re
import shutil
import sys

# Primitives written in inline PTX (or CUDA-only builtins) that cuda_emulation.h provides instead.
EMULATED = {"fast_exp2", "shared_address", "ldmatrix_x4", "ldmatrix_x2", "ldmatrix_x2_trans", "ldmatrix_x4_trans",
            "cp_async_16", "cp_async_commit", "cp_async_wait", "st_shared_16", "ld_stream_16", "ld_global_16",
            "mma_m16n8k16_bf16"}


def cut_function(text, name):
    """Removes the definitions of `name` whose body holds inline asm (the 4-argument mma overload stays)."""
    pos = 0
    while True:
        m = re.search(r'(template <[^>]*>\s*\n)?__device__ __forceinline__ [\w:<> ]+?\b' + name + r'\(', text[pos:])
        if not m:
            return text
        start = pos + m.start()
        i = text.index('{', pos + m.end())
        depth = 0
        while True:
            depth += {'{': 1, '}': -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        body = text[start:i + 1]
        if 'asm' in body or name == 'shared_address':
            text = text[:start] + text[i + 1:]
            pos = start
        else:
            pos = i + 1


def split_top_level(text):
    """Splits a declarator list at the commas outside brackets and parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {'[': 1, '(': 1, ']': -1, ')': -1}.get(ch, 0)
        if ch == ',' and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def register_static_shared(text, name):
    """Follows each static __shared__ declaration with a one-time emu::register_shared of its variables, so that the
    emulator poisons them before every block (extern __shared__ is dynamic shared memory, handled apart)."""
    out = []
    for line in text.split('\n'):
        m = re.match(r'^(\s*)__shared__ (.*);\s*(//.*)?$', line)
        if m:
            names = [re.match(r'\s*([^\[]*?)\s*(\[|$)', part).group(1).split()[-1] for part in split_top_level(m.group(2))]
            line = (f"{m.group(1)}__shared__ {m.group(2)}; "
                    f"static EMU_TLS const bool {names[0]}_poisoned = emu::register_shared({', '.join(names)});")
        elif '__shared__' in line and 'extern __shared__' not in line and not line.lstrip().startswith('//'):
            sys.exit(f"{name}: a __shared__ declaration the emulator cannot register: {line.strip()}")
        out.append(line)
    return '\n'.join(out)


def dynamic_shared_as_pointer(text, name):
    """extern __shared__ T name[] becomes a pointer to the launch's dynamic shared memory (emu::dynamic_shared), which
    the checks and the driver stand-in provide per launch and per OS thread."""
    def pointer(m):
        return f"{m.group(2)}* const {m.group(3)} = emu::dynamic_shared<{m.group(2)}>();"
    text = re.sub(r'extern __shared__ (__align__\(\d+\) )?([A-Za-z_][\w ]*?)\s+(\w+)\[\];', pointer, text)
    if 'extern __shared__' in text:
        sys.exit(f"{name}: an extern __shared__ declaration the emulator cannot rewrite")
    return text


def main(kernels, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for f in sorted(os.listdir(kernels)):
        if not (f.endswith('.cu') or f.endswith('.cuh')):
            continue
        text = open(os.path.join(kernels, f)).read()
        if f == 'common.cuh':
            for name in sorted(EMULATED):
                text = cut_function(text, name)
            leftover = [line for line in text.splitlines() if 'asm' in line]
            if leftover:
                sys.exit(f"common.cuh still has inline PTX the emulator does not provide: {leftover}")
            text = text.replace('#pragma once', '#pragma once\n#include "cuda_emulation.h"', 1)
        # Dynamic shared memory becomes a pointer to what the launch gives; static __shared__ becomes static.
        text = dynamic_shared_as_pointer(text, f)
        text = register_static_shared(text, f)
        text = text.replace('reinterpret_cast<', 'emu_cast<')
        open(os.path.join(out, f), 'w').write(text)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
