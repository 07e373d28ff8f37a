namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>What was wrong with a safetensors file, index or checkpoint; one value per distinct failure.</summary>
public enum SafeTensorsError
{
    /// <summary>The path names no file (or directory, for a checkpoint).</summary>
    FileNotFound,
    /// <summary>The path names a FIFO, device, socket or directory: reading one could block or never end.</summary>
    NotARegularFile,
    /// <summary>The file is shorter than the 8-byte header length prefix.</summary>
    Truncated,
    /// <summary>The declared header length is above the 100 MB cap.</summary>
    HeaderTooLarge,
    /// <summary>The declared header length runs past the end of the file.</summary>
    HeaderLengthPastEnd,
    /// <summary>The header bytes are not valid UTF-8.</summary>
    InvalidHeaderEncoding,
    /// <summary>The header does not start with '{'.</summary>
    HeaderNotObject,
    /// <summary>The header is not well-formed JSON.</summary>
    InvalidJson,
    /// <summary>"__metadata__" is not an object of string values, or appears twice.</summary>
    InvalidMetadata,
    /// <summary>A tensor entry is not an object with dtype, shape and data_offsets of the right JSON types.</summary>
    InvalidTensorEntry,
    /// <summary>The same tensor name appears twice (in one header or one index).</summary>
    DuplicateTensor,
    /// <summary>A dtype string the safetensors format does not define.</summary>
    UnknownDType,
    /// <summary>A dtype the format defines but the engine cannot hold (F8_E4M3, U16, ...).</summary>
    UnsupportedDType,
    /// <summary>A shape dimension is negative or not an integer.</summary>
    InvalidShape,
    /// <summary>data_offsets is not [begin, end] with 0 &lt;= begin &lt;= end.</summary>
    InvalidOffsets,
    /// <summary>The element count or byte size of a shape overflows 64 bits.</summary>
    SizeOverflow,
    /// <summary>end - begin differs from prod(shape) x dtype size.</summary>
    ByteSizeMismatch,
    /// <summary>Sorted by begin, a tensor starts after the previous one ends (or the first does not start at 0).</summary>
    OffsetsNotContiguous,
    /// <summary>Sorted by begin, a tensor starts before the previous one ends.</summary>
    OffsetsOverlap,
    /// <summary>The data buffer is longer (trailing bytes) or shorter than the tensors it holds.</summary>
    DataSizeMismatch,
    /// <summary>A tensor name that the file or checkpoint does not hold.</summary>
    TensorNotFound,
    /// <summary>A tensor is too large for the requested view (a span is limited to int.MaxValue bytes).</summary>
    TensorTooLarge,
    /// <summary>model.safetensors.index.json is malformed.</summary>
    InvalidIndex,
    /// <summary>The index names a shard file that does not exist.</summary>
    MissingShard,
    /// <summary>A shard lacks a tensor that the index says it holds.</summary>
    MissingTensorInShard,
    /// <summary>The same tensor is stored in two shards.</summary>
    TensorInMultipleShards,
    /// <summary>A directory has no index and no .safetensors file.</summary>
    CheckpointNotFound,
    /// <summary>A directory has no index and several .safetensors files.</summary>
    AmbiguousCheckpoint,
    /// <summary>A streamed tensor writer wrote more or fewer bytes than the tensor's size.</summary>
    WrittenSizeMismatch,
}
