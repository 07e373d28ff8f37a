using System.Reflection;
using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Backends.Cuda.Kernels;

namespace CoAR.Engine.Tests.Cuda.LaunchTable;

/// <summary>
/// Checks a kernel descriptor against the kernel's declaration: the kernel exists in the descriptor's file, the
/// argument struct has one field per parameter, and each field is what the parameter is (a pointer: ulong; int: int;
/// long long: long; float: float; a struct by value: a struct whose fields sit where C puts the members).
/// </summary>
internal static class LaunchTableCheck
{
    /// <summary>Every descriptor of every launch table (the static classes of the Kernels namespace).</summary>
    public static IReadOnlyList<KernelDescriptor> AllDescriptors() =>
        typeof(KernelDescriptor).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(KernelDescriptor).Namespace && t.IsAbstract && t.IsSealed)
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .SelectMany(f => f.GetValue(null) switch
            {
                KernelDescriptor d => [d],
                IEnumerable<KernelDescriptor> set => set,
                _ => [],
            })
            .ToList();

    /// <summary>What is wrong with the descriptor; empty when it matches its kernel.</summary>
    public static IReadOnlyList<string> Check(KernelDescriptor descriptor, IReadOnlyDictionary<string, IReadOnlyList<KernelDeclaration>> declarations)
    {
        var problems = new List<string>();
        string where = $"{descriptor} launched with {descriptor.Arguments.Name}";
        if (!declarations.TryGetValue(descriptor.File, out var inFile))
        {
            problems.Add($"{where}: there is no kernel file {descriptor.File}");
            return problems;
        }
        var declaration = inFile.FirstOrDefault(d => d.Name == descriptor.Name);
        if (declaration is null)
        {
            var elsewhere = declarations.Where(f => f.Value.Any(d => d.Name == descriptor.Name)).Select(f => f.Key).ToList();
            problems.Add($"{where}: {descriptor.File} declares no extern \"C\" kernel {descriptor.Name}" +
                (elsewhere.Count > 0 ? $" (it is declared in {string.Join(", ", elsewhere)})" : ""));
            return problems;
        }
        var fields = Fields(descriptor.Arguments);
        var parameters = declaration.Parameters;
        if (fields.Count != parameters.Count)
            problems.Add($"{where}: {fields.Count} fields for the {parameters.Count} parameters of {Signature(declaration)}");
        for (int i = 0; i < Math.Min(fields.Count, parameters.Count); i++)
        {
            string parameter = $"{where}: parameter {i} '{parameters[i].Name}' ({parameters[i].Type})";
            if (!SameName(fields[i].Name, parameters[i].Name))
                problems.Add($"{parameter} is passed from field {fields[i].Name}, which names another parameter or none");
            CompareMember(parameter, fields[i], parameters[i].Type, problems);
        }
        return problems;
    }

    /// <summary>
    /// A field names its parameter as C# spells it ("WeightBf16" for weight_bf16): two parameters of one type swapped
    /// in the struct have the right kinds, but not the right names.
    /// </summary>
    private static bool SameName(string field, string parameter) =>
        string.Equals(field, parameter.Replace("_", ""), StringComparison.OrdinalIgnoreCase);

    public static string Signature(KernelDeclaration d) => $"{d.Name}({string.Join(", ", d.Parameters.Select(p => $"{p.Type} {p.Name}"))})";

    /// <summary>A struct's instance fields in declaration order: the order a launch passes them in.</summary>
    private static IReadOnlyList<FieldInfo> Fields(Type type) =>
        type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).OrderBy(f => f.MetadataToken).ToList();

    private static void CompareMember(string where, FieldInfo field, CType c, List<string> problems)
    {
        var type = field.FieldType.IsEnum ? Enum.GetUnderlyingType(field.FieldType) : field.FieldType;
        string name = $"{field.DeclaringType!.Name}.{field.Name} ({type.Name})";
        if (c.Kind != CKind.Struct)
        {
            if (!Matches(c.Kind, type))
                problems.Add($"{where} is passed from {name}; expected {Expected(c.Kind)}");
            return;
        }
        if (!type.IsValueType || type.IsPrimitive)
        {
            problems.Add($"{where} is a struct of {c.Size} bytes passed by value, but {name} is not a struct");
            return;
        }
        int size = Marshal.SizeOf(type);
        if (size != c.Size)
            problems.Add($"{where} is {c.Size} bytes in C, {name} is {size}");
        var members = Fields(type);
        if (members.Count != c.Members.Count)
            problems.Add($"{where}: struct {c} has {c.Members.Count} members, {name} has {members.Count} fields");
        for (int i = 0; i < Math.Min(members.Count, c.Members.Count); i++)
        {
            var member = c.Members[i];
            int offset = (int)Marshal.OffsetOf(type, members[i].Name);
            if (offset != member.Offset)
                problems.Add($"{where}: member {c}.{member.Name} is at offset {member.Offset} in C, {type.Name}.{members[i].Name} at {offset}");
            CompareMember($"{where}: member {c}.{member.Name} ({member.Type})", members[i], member.Type, problems);
        }
    }

    private static bool Matches(CKind kind, Type type) => kind switch
    {
        CKind.Pointer => type == typeof(ulong) || type == typeof(nint) || type == typeof(nuint) || type.IsPointer,
        CKind.Int8 => type == typeof(sbyte),
        CKind.UInt8 => type == typeof(byte),
        CKind.Int16 => type == typeof(short),
        CKind.UInt16 => type == typeof(ushort),
        CKind.Int32 => type == typeof(int),
        CKind.UInt32 => type == typeof(uint),
        CKind.Int64 => type == typeof(long),
        CKind.UInt64 => type == typeof(ulong),
        CKind.Float32 => type == typeof(float),
        CKind.Float64 => type == typeof(double),
        _ => false,
    };

    private static string Expected(CKind kind) => kind switch
    {
        CKind.Pointer => "a 64-bit device address (ulong)",
        CKind.Int8 => "sbyte",
        CKind.UInt8 => "byte",
        CKind.Int16 => "short",
        CKind.UInt16 => "ushort",
        CKind.Int32 => "int",
        CKind.UInt32 => "uint",
        CKind.Int64 => "long",
        CKind.UInt64 => "ulong",
        CKind.Float32 => "float",
        CKind.Float64 => "double",
        _ => kind.ToString(),
    };
}
