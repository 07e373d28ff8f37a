using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Tests.Torch;

/// <summary>
/// A Lightning-style checkpoint pickle as CPython's pickler writes it under torch.save (golden_pickle.py beside this
/// file made <see cref="Hex"/>), and the same structure built from the test stand-ins.
/// </summary>
internal static class GoldenPickle
{
    internal const string Hex =
        "80027d710028580500000065706f636871014b03580b000000676c6f62616c5f7374657071024a7011010058190000007079"
        + "746f7263682d6c696768746e696e675f76657273696f6e71035805000000312e392e307104580a00000073746174655f6469"
        + "6374710563636f6c6c656374696f6e730a4f726465726564446963740a710629527107285808000000612e77656967687471"
        + "0863746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a71092828580700000073746f72616765"
        + "710a63746f7263680a466c6f617453746f726167650a710b580100000030710c5803000000637075710d4b0674710e514b00"
        + "4b024b0386710f4b034b0186711089680629527111747112527113580a000000612e7765696768745f74711468092828680a"
        + "680b680c680d4b06747115514b004b034b028671164b014b038671178968062952711874711952711a580100000062711b68"
        + "092828680a63746f7263680a42466c6f6174313653746f726167650a711c580100000031711d680d4b0474711e514b014b03"
        + "85711f4b0185712089680629527121747122527123580100000063712463746f7263682e5f7574696c730a5f72656275696c"
        + "645f706172616d657465720a712568092828680a63746f7263680a48616c6653746f726167650a7126580100000032712768"
        + "0d4b03747128514b004b038571294b0185712a8968062952712b74712c52712d8868062952712e87712f527130757d713158"
        + "090000005f6d65746164617461713268062952713328580000000071347d7135580700000076657273696f6e71364b017358"
        + "010000006171377d713868364b017375736258100000006f7074696d697a65725f73746174657371395d713a7d713b285805"
        + "0000007374617465713c7d713d4b007d713e28580400000073746570713f4b0a58070000006578705f617667714068092828"
        + "680a680b5801000000337141680d4b02747142514b004b028571434b01857144896806295271457471465271477573580c00"
        + "0000706172616d5f67726f75707371485d71497d714a2858020000006c72714b473f1a36e2eb1c432d580500000062657461"
        + "73714c473fe0000000000000473feccccccccccccd86714d5806000000706172616d73714e5d714f4b006175617561580d00"
        + "00006c725f7363686564756c65727371505d7151752e";

    /// <summary>
    /// torch.save(..., pickle_protocol=4) of OrderedDict(w=tensor of a 2-float storage, n=-300, big=2**40,
    /// neg=-2**40, f=1.5): FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL and LONG1 in CPython's own bytes.
    /// </summary>
    internal const string Protocol4Hex =
        "800495c8000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0177948c"
        + "0c746f7263682e5f7574696c73948c125f72656275696c645f74656e736f725f763294939428288c0773746f72616765948c"
        + "05746f726368948c0c466c6f617453746f726167659493948c0130948c03637075944b027494514b004b0285944b01859489"
        + "6802295294749452948c016e944ad4feffff8c03626967948a060000000000018c036e6567948a060000000000ff8c016694"
        + "473ff8000000000000752e";

    internal static readonly float[] F32Values = [1.5f, -2f, 3.25f, 0f, 10f, -0.125f];
    internal static readonly ushort[] Bf16Bits = [0x3F80, 0xC040, 0x4049, 0x3E00]; // 1, -3, 3.140625, 0.125
    internal static readonly float[] F16Values = [0.5f, -65504f, 0.000061035156f];
    internal static readonly float[] OptimizerValues = [7f, 8f];

    /// <summary>The structure golden_pickle.py saves, with storage contents for writing a full archive.</summary>
    internal static PyDict Build()
    {
        var f32 = new FakeStorage("FloatStorage", DType.F32, Bytes(F32Values));
        var bf16 = new FakeStorage("BFloat16Storage", DType.BF16, Bytes(Bf16Bits));
        var f16 = new FakeStorage("HalfStorage", DType.F16, Bytes(F16Values.Select(v => (Half)v).ToArray()));
        var optimizer = new FakeStorage("FloatStorage", DType.F32, Bytes(OptimizerValues));
        var stateDict = new PyOrderedDict(
            ("a.weight", new FakeTensor(f32, 0, [2, 3], [3, 1])),
            ("a.weight_t", new FakeTensor(f32, 0, [3, 2], [1, 3])),
            ("b", new FakeTensor(bf16, 1, [3], [1])),
            ("c", new FakeParameter(new FakeTensor(f16, 0, [3], [1]))))
        {
            Attributes = new PyDict(("_metadata", new PyOrderedDict(("", new PyDict(("version", 1))), ("a", new PyDict(("version", 1)))))),
        };
        return new PyDict(
            ("epoch", 3),
            ("global_step", 70000),
            ("pytorch-lightning_version", "1.9.0"),
            ("state_dict", stateDict),
            ("optimizer_states", new List<object?>
            {
                new PyDict(
                    ("state", new PyDict((0, new PyDict(("step", 10), ("exp_avg", new FakeTensor(optimizer, 0, [2], [1])))))),
                    ("param_groups", new List<object?> { new PyDict(("lr", 0.0001), ("betas", new object?[] { 0.5, 0.9 }), ("params", new List<object?> { 0 })) })),
            }),
            ("lr_schedulers", new List<object?>()));
    }

    internal static byte[] Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
