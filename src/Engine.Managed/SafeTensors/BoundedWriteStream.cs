namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>
/// What a streamed tensor writer sees: a write-only stream onto the output file that refuses bytes past the tensor's
/// size and counts what was written, so a wrong-sized writer cannot corrupt its neighbours' offsets.
/// </summary>
internal sealed class BoundedWriteStream(Stream inner, long limit, string filePath, string tensorName) : Stream
{
    public long Written { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => Written;
        set => throw new NotSupportedException();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length > limit - Written)
            throw new SafeTensorsException(SafeTensorsError.WrittenSizeMismatch, filePath, tensorName,
                $"the streamed writer wrote past the tensor's {limit} bytes ({Written} written, {buffer.Length} more offered)");
        inner.Write(buffer);
        Written += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write(new ReadOnlySpan<byte>(in value));

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
