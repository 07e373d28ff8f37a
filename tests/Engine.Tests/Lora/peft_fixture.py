"""An independent writer and reader of Hugging Face PEFT LoRA adapters, from the Python standard library only (no
PEFT, torch or safetensors package here), written from PEFT's documented layout rather than from the engine's code:

  adapter_model.safetensors  8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
                             "__metadata__": {"format": "pt"}, then the tensor bytes; tensors named
                             base_model.model.<module>.lora_A.weight [r, in] and .lora_B.weight [out, r], where <module>
                             is the transformers module path, model.layers.<i>.self_attn.q_proj for a Chameleon layer.
  adapter_config.json        peft_type "LORA", r, lora_alpha, target_modules, lora_dropout, bias, use_rslora, ...

Usage:
  peft_fixture.py write DIR HIDDEN KV_DIM      a rank-4 adapter on q_proj and v_proj of layers 0 and 2: A stored BF16,
                                               B stored F16, every value k/64 (exact in both), alpha 8
  peft_fixture.py read DIR                     checks an adapter's names, shapes and config as PEFT would load them,
                                               and prints {tensor name: [dtype, shape, sum of values]} as JSON
"""
import json
import os
import re
import struct
import sys

NAME = re.compile(r"^base_model\.model\.model\.layers\.(\d+)\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.lora_(A|B)\.weight$")


def value(i, salt):
    return (((i * 37 + salt * 11) % 17) - 8) / 64.0


def bf16_bits(x):
    # x is exact in bf16 (k/64, |k| <= 8): the upper half of its f32 bits, no rounding needed.
    return struct.unpack("<I", struct.pack("<f", x))[0] >> 16


def write(directory, hidden, kv_dim):
    rank = 4
    tensors = []
    for layer in (0, 2):
        for proj, out in (("q_proj", hidden), ("v_proj", kv_dim)):
            module = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
            salt = layer * 10 + len(proj) + out
            a = [value(i, salt) for i in range(rank * hidden)]
            b = [value(i, salt + 1) for i in range(out * rank)]
            tensors.append((f"{module}.lora_A.weight", "BF16", [rank, hidden], b"".join(struct.pack("<H", bf16_bits(v)) for v in a)))
            tensors.append((f"{module}.lora_B.weight", "F16", [out, rank], b"".join(struct.pack("<e", v) for v in b)))
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "adapter_model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "Alpha-VLLM/Lumina-mGPT-7B-768",
              "r": rank, "lora_alpha": 8, "target_modules": ["v_proj", "q_proj"], "lora_dropout": 0.05, "bias": "none",
              "fan_in_fan_out": False, "use_rslora": False, "use_dora": False, "init_lora_weights": True,
              "layers_to_transform": None, "modules_to_save": None, "inference_mode": True, "rank_pattern": {},
              "alpha_pattern": {}, "revision": None}
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)


def read(directory):
    config = json.load(open(os.path.join(directory, "adapter_config.json")))
    assert config["peft_type"] == "LORA", config["peft_type"]
    rank, targets = config["r"], set(config["target_modules"])
    assert isinstance(rank, int) and rank > 0 and config["lora_alpha"] > 0
    assert config.get("bias", "none") == "none" and not config.get("use_dora") and not config.get("fan_in_fan_out")
    data = open(os.path.join(directory, "adapter_model.safetensors"), "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.pop("__metadata__", {})
    assert meta.get("format") == "pt", meta
    out, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        m = NAME.match(name)
        assert m, f"not a PEFT LoRA tensor name: {name}"
        module = m.group(2).split(".")[1]
        assert module in targets, f"{name}: {module} is not in target_modules {sorted(targets)}"
        start, stop = info["data_offsets"]
        assert start == end, f"{name}: data starts at {start}, expected {end}"
        end = stop
        shape, dtype = info["shape"], info["dtype"]
        assert len(shape) == 2 and (shape[0] == rank if m.group(5) == "A" else shape[1] == rank), f"{name}: shape {shape} for r = {rank}"
        assert dtype == "F32", f"{name}: {dtype}"
        count = shape[0] * shape[1]
        assert stop - start == 4 * count, f"{name}: {stop - start} bytes for {count} floats"
        values = struct.unpack(f"<{count}f", body[start:stop])
        out[name] = [dtype, shape, sum(values)]
    assert end == len(body), f"{len(body) - end} bytes after the last tensor"
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        read(sys.argv[2])
