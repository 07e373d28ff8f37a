namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>
/// A kernel the CUDA backend launches: its file under kernels/, its extern "C" name, and the argument struct whose
/// fields are its parameters, in order (<see cref="Managed.Cuda.CudaKernel.Launch{TArgs}"/>). Every kernel is
/// described once, in the table of its file (<c>RowKernels</c> for rows.cu, ...), and <see cref="KernelLibrary"/>
/// loads kernels only through a descriptor: the tables are the whole list of launches, which the launch-table test
/// checks against the kernels' declarations.
/// </summary>
public abstract class KernelDescriptor(string file, string name)
{
    /// <summary>The kernel file ("rows.cu"), one CUDA module.</summary>
    public string File { get; } = file;

    /// <summary>The extern "C" entry point.</summary>
    public string Name { get; } = name;

    /// <summary>The argument struct: one field per kernel parameter.</summary>
    public abstract Type Arguments { get; }

    public override string ToString() => $"{File}:{Name}";
}

/// <summary>A kernel launched with <typeparamref name="TArgs"/> (see <see cref="KernelDescriptor"/>).</summary>
public sealed class KernelDescriptor<TArgs>(string file, string name) : KernelDescriptor(file, name) where TArgs : unmanaged
{
    public override Type Arguments => typeof(TArgs);
}
