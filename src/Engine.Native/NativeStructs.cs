using System.Runtime.InteropServices;

namespace CoAR.Engine.Native;

// The structs of coar.h, field for field in the same order (sequential layout gives C's alignment and padding).
// Enums are int in C; flags are int32 (0/1).

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeProgress
{
    public int Phase;
    public int Step;
    public int Steps;
    public long Done;
    public long Total;
    public double ElapsedSeconds;
    public byte* Item;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeLoadOptions
{
    public byte* Device;
    public byte* VqganDir;
    public int TargetSize;
    public delegate* unmanaged[Cdecl]<NativeProgress*, void*, int> Progress;
    public void* ProgressUserData;
    public int* Cancel;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeEngineInfo
{
    public byte* Device;
    public byte* FallbackReason;
    public byte* Fingerprint;
    public int TargetSize;
    public int Layers;
    public int HiddenSize;
    public int VocabSize;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NativeMemoryEstimate
{
    public long WeightBytes;
    public long KvCacheBytes;
    public long ActivationBytes;
    public long TotalBytes;
    public int Rows;
    public int TokensPerRow;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeGenerateOptions
{
    public byte* Prompt;
    public int Width;
    public int Height;
    public int Count;
    public ulong Seed;
    public float Cfg;
    public int TopK;
    public float Temperature;
    public nint* Concepts;
    public int ConceptCount;
    public int IdentityMask;
    public delegate* unmanaged[Cdecl]<NativeProgress*, void*, int> Progress;
    public void* ProgressUserData;
    public int* Cancel;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeImage
{
    public int Width;
    public int Height;
    public byte* Rgb;
    public int* Tokens;
    public int TokenCount;
    public ulong Seed;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeImages
{
    public int Count;
    public NativeImage* Images;
    public double PrefillSeconds;
    public double DecodeSeconds;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeConceptInfo
{
    public int Kind;
    public byte* Placeholder;
    public byte* ClassNoun;
    public byte* BaseModel;
    public int Depth;
    public int TextSlots;
    public int ImageSlots;
    public int HiddenSize;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NativeTrainStep
{
    public int Step;
    public int Steps;
    public double Loss;
    public double NtpLoss;
    public double DppLoss;
    public double CasrLoss;
    public float LearningRate;
    public double StepSeconds;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeTrainOptions
{
    public int Kind;
    public byte* ClassNoun;
    public byte* Placeholder;
    public int Steps;
    public int Layers;
    public int TextSlots;
    public int ImageSlots;
    public float LearningRate;
    public int Resolution;
    public int PriorPreservation;
    public int ClassImages;
    public int SelfRegularization;
    public int Accumulation;
    public int RandomCrop;
    public int Seed;
    public byte* WorkDir;
    public delegate* unmanaged[Cdecl]<NativeTrainStep*, void*, int> OnStep;
    public void* UserData;
    public int* Cancel;
}

// ---- API 1.1 ----

[StructLayout(LayoutKind.Sequential)]
internal struct NativeEngineWeights
{
    public int Lora;
    public int Projections;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativePromptImages
{
    public byte** ImagePaths;
    public int ImageCount;
    public int Instruction;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeMethodOptions
{
    public int Method;
    public int LoraRank;
    public float LoraAlpha;
    public byte* Targets;
    public int Stage2Lora;
    public int Stage2Steps;
    public float Stage2LearningRate;
    public byte* OutputDir;
}
