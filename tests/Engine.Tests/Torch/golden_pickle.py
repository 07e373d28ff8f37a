# How GoldenPickle.Hex was made: CPython's own C pickler at protocol 2, with stand-in torch modules carrying
# torch.save's persistent_id (serialization._save) and Tensor/Parameter.__reduce_ex__. Run: python3 golden_pickle.py (prints Hex, then Protocol4Hex)
import collections, io, pickle, sys, types

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
def _rebuild_tensor_v2(*a): pass
def _rebuild_parameter(*a): pass
for f in (_rebuild_tensor_v2, _rebuild_parameter):
    f.__module__ = "torch._utils"; setattr(utils, f.__name__, f)
def storage_class(name):
    c = type(name, (), {}); c.__module__ = "torch"; setattr(torch, name, c); return c
FloatStorage, BFloat16Storage, HalfStorage = storage_class("FloatStorage"), storage_class("BFloat16Storage"), storage_class("HalfStorage")

class Storage:
    def __init__(self, cls, numel): self.cls, self.numel = cls, numel
class Tensor:
    def __init__(self, storage, offset, size, stride): self.s, self.o, self.size, self.stride = storage, offset, size, stride
    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.s, self.o, tuple(list(self.size)), tuple(list(self.stride)), False, collections.OrderedDict()))
class Parameter:
    def __init__(self, data): self.data = data
    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.data, True, collections.OrderedDict()))

def dump(obj, protocol=2):
    id_map = {}
    def persistent_id(obj):
        if isinstance(obj, Storage):
            key = id_map.setdefault(id(obj), str(len(id_map)))
            return ("storage", obj.cls, key, "cpu", obj.numel)
        return None
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=protocol)
    p.persistent_id = persistent_id
    p.dump(obj)
    return buf.getvalue()

f32 = Storage(FloatStorage, 6)
bf16 = Storage(BFloat16Storage, 4)
f16 = Storage(HalfStorage, 3)
sd = collections.OrderedDict()
sd["a.weight"] = Tensor(f32, 0, (2, 3), (3, 1))
sd["a.weight_t"] = Tensor(f32, 0, (3, 2), (1, 3))
sd["b"] = Tensor(bf16, 1, (3,), (1,))
sd["c"] = Parameter(Tensor(f16, 0, (3,), (1,)))
sd._metadata = collections.OrderedDict([("", {"version": 1}), ("a", {"version": 1})])
opt = Storage(FloatStorage, 2)
root = {
    "epoch": 3,
    "global_step": 70000,
    "pytorch-lightning_version": "1.9.0",
    "state_dict": sd,
    "optimizer_states": [{"state": {0: {"step": 10, "exp_avg": Tensor(opt, 0, (2,), (1,))}},
                          "param_groups": [{"lr": 0.0001, "betas": (0.5, 0.9), "params": [0]}]}],
    "lr_schedulers": [],
}
print(dump(root).hex())
# torch.save(..., pickle_protocol=4): FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL; and ints of every width.
small = collections.OrderedDict([("w", Tensor(Storage(FloatStorage, 2), 0, (2,), (1,))), ("n", -300), ("big", 2 ** 40), ("neg", -(2 ** 40)), ("f", 1.5)])
print(dump(small, protocol=4).hex())
