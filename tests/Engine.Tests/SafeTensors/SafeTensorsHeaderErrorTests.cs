using System.Text;
using CoAR.Engine.Managed.SafeTensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.SafeTensors;

/// <summary>One test per malformed-file case: each must fail with its own Kind, naming the file and (where one) the tensor.</summary>
public class SafeTensorsHeaderErrorTests : SafeTensorsTestFiles
{
    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    private void AssertOpenFails(SafeTensorsError kind, string path, string? tensor, params string[] messageParts)
    {
        var e = AssertFails(kind, path, tensor, () => SafeTensorsFile.Open(path).Dispose());
        foreach (string part in messageParts)
            Assert.That(e.Message, Does.Contain(part));
    }

    [Test]
    public void FileShorterThanTheLengthPrefix()
    {
        string path = PathOf("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        AssertOpenFails(SafeTensorsError.Truncated, path, null, "5 bytes");
    }

    [Test]
    public void HeaderLengthAboveTheCap()
    {
        string path = WriteRaw("huge.safetensors", "{}"u8, 8, declaredHeaderLength: 200_000_000);
        AssertOpenFails(SafeTensorsError.HeaderTooLarge, path, null, "200000000");
    }

    [Test]
    public void HeaderLengthPastTheEndOfTheFile()
    {
        string path = WriteRaw("past.safetensors", "{}"u8, 8, declaredHeaderLength: 100);
        AssertOpenFails(SafeTensorsError.HeaderLengthPastEnd, path, null, "100 bytes", "only 10");
    }

    [Test]
    public void HeaderThatIsNotUtf8()
    {
        string path = WriteRaw("utf8.safetensors", [.. "{\"a"u8, 0xFF, .. "\":1}"u8], 0);
        AssertOpenFails(SafeTensorsError.InvalidHeaderEncoding, path, null, "UTF-8");
    }

    [Test]
    public void HeaderThatDoesNotStartWithABrace()
    {
        string path = WriteRaw("array.safetensors", "[1, 2]", 0);
        AssertOpenFails(SafeTensorsError.HeaderNotObject, path, null, "'{'", "[1, 2]");
    }

    [Test]
    public void HeaderThatIsNotJson()
    {
        string path = WriteRaw("json.safetensors", "{\"a\": ", 0);
        AssertOpenFails(SafeTensorsError.InvalidJson, path, null, "not valid JSON");
    }

    [Test]
    public void HeaderWithContentAfterItsObject()
    {
        string path = WriteRaw("trailing.safetensors", "{} x", 0);
        AssertOpenFails(SafeTensorsError.InvalidJson, path, null, "not valid JSON");
    }

    [Test]
    public void MetadataWithANonStringValue()
    {
        string path = WriteRaw("meta.safetensors", "{\"__metadata__\":{\"epochs\":3}}", 0);
        AssertOpenFails(SafeTensorsError.InvalidMetadata, path, null, "'epochs'", "Number");
    }

    [Test]
    public void TensorEntryMissingAField()
    {
        string path = WriteRaw("field.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
        AssertOpenFails(SafeTensorsError.InvalidTensorEntry, path, "w", "data_offsets");
    }

    [Test]
    public void TensorEntryThatIsNotAnObject()
    {
        string path = WriteRaw("entry.safetensors", "{\"w\":[1,2]}", 0);
        AssertOpenFails(SafeTensorsError.InvalidTensorEntry, path, "w", "StartArray");
    }

    [Test]
    public void DuplicateTensorName()
    {
        string path = WriteRaw("dup.safetensors",
            "{" + Entry("w", "F32", "[1]", 0, 4) + "," + Entry("w", "F32", "[1]", 4, 8) + "}", 8);
        AssertOpenFails(SafeTensorsError.DuplicateTensor, path, "w", "twice");
    }

    [Test]
    public void UnknownDType()
    {
        string path = WriteRaw("dtype.safetensors", "{" + Entry("w", "F128", "[1]", 0, 16) + "}", 16);
        AssertOpenFails(SafeTensorsError.UnknownDType, path, "w", "'F128'", "BF16");
    }

    [Test]
    public void UnsupportedDTypeFailsWhenTheTensorIsRead()
    {
        string path = WriteRaw("f8.safetensors", "{" + Entry("w", "F8_E4M3", "[4]", 0, 4) + "}", 4);
        using var file = SafeTensorsFile.Open(path);
        var e = AssertFails(SafeTensorsError.UnsupportedDType, path, "w", () => file.GetTensor("w"));
        Assert.That(e.Message, Does.Contain("F8_E4M3"));
    }

    [Test]
    public void NegativeDimension()
    {
        string path = WriteRaw("neg.safetensors", "{" + Entry("w", "F32", "[-1,2]", 0, 0) + "}", 0);
        AssertOpenFails(SafeTensorsError.InvalidShape, path, "w", "-1");
    }

    [Test]
    public void FractionalDimension()
    {
        string path = WriteRaw("frac.safetensors", "{" + Entry("w", "F32", "[1.5]", 0, 4) + "}", 4);
        AssertOpenFails(SafeTensorsError.InvalidShape, path, "w", "1.5");
    }

    [Test]
    public void OffsetsThatEndBeforeTheyBegin()
    {
        string path = WriteRaw("rev.safetensors", "{" + Entry("w", "F32", "[1]", 8, 4) + "}", 8);
        AssertOpenFails(SafeTensorsError.InvalidOffsets, path, "w", "[8, 4]");
    }

    [Test]
    public void ShapeWhoseSizeOverflows()
    {
        string path = WriteRaw("overflow.safetensors", "{" + Entry("w", "F32", "[4611686018427387904,4]", 0, 4) + "}", 4);
        AssertOpenFails(SafeTensorsError.SizeOverflow, path, "w", "overflows");
    }

    [Test]
    public void OffsetsThatDisagreeWithShapeAndDType()
    {
        string path = WriteRaw("size.safetensors", "{" + Entry("w", "F32", "[2,2]", 0, 12) + "}", 12);
        AssertOpenFails(SafeTensorsError.ByteSizeMismatch, path, "w", "needs 16 bytes", "span 12");
    }

    [Test]
    public void SubByteTensorThatDoesNotFillWholeBytes()
    {
        string path = WriteRaw("f4.safetensors", "{" + Entry("w", "F4", "[3]", 0, 2) + "}", 2);
        AssertOpenFails(SafeTensorsError.ByteSizeMismatch, path, "w", "12 bits");
    }

    [Test]
    public void FirstTensorNotAtOffsetZero()
    {
        string path = WriteRaw("gap0.safetensors", "{" + Entry("w", "F32", "[1]", 4, 8) + "}", 8);
        AssertOpenFails(SafeTensorsError.OffsetsNotContiguous, path, "w", "offset 0", "starts at 4");
    }

    [Test]
    public void GapBetweenTensors()
    {
        string path = WriteRaw("gap.safetensors",
            "{" + Entry("b", "F32", "[1]", 8, 12) + "," + Entry("a", "F32", "[1]", 0, 4) + "}", 12);
        AssertOpenFails(SafeTensorsError.OffsetsNotContiguous, path, "b", "'a' ends at 4", "gap of 4");
    }

    [Test]
    public void OverlappingTensors()
    {
        string path = WriteRaw("overlap.safetensors",
            "{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[1]", 4, 8) + "}", 8);
        AssertOpenFails(SafeTensorsError.OffsetsOverlap, path, "b", "'a'");
    }

    [Test]
    public void TrailingBytesAfterTheLastTensor()
    {
        string path = WriteRaw("tail.safetensors", "{" + Entry("a", "F32", "[1]", 0, 4) + "}", 7);
        AssertOpenFails(SafeTensorsError.DataSizeMismatch, path, null, "3 trailing bytes");
    }

    [Test]
    public void DataShorterThanTheTensors()
    {
        string path = WriteRaw("cut.safetensors", "{" + Entry("a", "F32", "[2]", 0, 8) + "}", 5);
        AssertOpenFails(SafeTensorsError.DataSizeMismatch, path, "a", "holds only 5 bytes");
    }

    [Test]
    public void TensorThatIsNotInTheFile()
    {
        string path = WriteRaw("ok.safetensors", "{" + Entry("a", "F32", "[1]", 0, 4) + "}", 4);
        using var file = SafeTensorsFile.Open(path);
        AssertFails(SafeTensorsError.TensorNotFound, path, "b", () => file.GetTensor("b"));
    }

    [Test]
    public void FileThatDoesNotExist()
    {
        string path = PathOf("absent.safetensors");
        AssertOpenFails(SafeTensorsError.FileNotFound, path, null, "no such file");
    }

    [Test]
    public void EmptyHeaderObjectIsAValidEmptyFile()
    {
        string path = WriteRaw("empty.safetensors", Encoding.UTF8.GetBytes("{}      "), 0);
        using var file = SafeTensorsFile.Open(path);
        Assert.That(file.Tensors, Is.Empty);
        Assert.That(file.Metadata, Is.Empty);
    }
}
