using System.Diagnostics;
using System.Text.RegularExpressions;
using CoAR.Engine.Managed.Cuda;

namespace CoAR.Engine.Tests.Cuda.LaunchTable;

/// <summary>What a C parameter or struct member is, for the launch-table check: its kind, size and alignment.</summary>
internal enum CKind { Pointer, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64, Float32, Float64, Struct }

/// <summary>A C type as it is spelled, what it is, and (for a struct) its members at their offsets.</summary>
internal sealed record CType(string Spelling, CKind Kind, int Size, int Alignment, IReadOnlyList<CMember> Members)
{
    public override string ToString() => Spelling;
}

internal sealed record CMember(string Name, CType Type, int Offset);

/// <summary>One extern "C" kernel of a kernel file: its name and parameters in order, with their offsets in the parameter buffer.</summary>
internal sealed record KernelDeclaration(string File, string Name, IReadOnlyList<CMember> Parameters);

/// <summary>
/// Reads the extern "C" kernels of a kernel source set as the compiler sees them: each file is run through the C
/// preprocessor (the kernels are stamped out by macros such as COAR_GEMM_KERNEL), then every
/// <c>extern "C" __global__ void</c> declaration and every struct a kernel takes by value is parsed. A parameter of a
/// type this reader does not know is an error, never a guess.
/// </summary>
internal static class KernelDeclarations
{
    private static readonly Regex Kernel = new(
        @"extern\s+""C""\s+__global__\s+void\s+(?:__launch_bounds__\s*\((?:[^()]|\([^()]*\))*\)\s*)?(\w+)\s*\(([^)]*)\)",
        RegexOptions.Compiled);

    private static readonly Regex StructHead = new(@"\bstruct\s+(?:__align__\s*\(\s*(\d+)\s*\)\s+)?(\w+)\s*\{", RegexOptions.Compiled);

    /// <summary>Every kernel file's declarations, by file name.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<KernelDeclaration>> Read(KernelSourceSet sources)
    {
        string directory = Directory.CreateTempSubdirectory("coar-kernel-declarations-").FullName;
        try
        {
            foreach (var (name, text) in sources.Headers)
                File.WriteAllText(Path.Combine(directory, name), text);
            foreach (var file in sources.KernelFiles)
                File.WriteAllText(Path.Combine(directory, file), sources.Source(file));
            return sources.KernelFiles.ToDictionary(f => f, f => Parse(f, Preprocess(Path.Combine(directory, f))), StringComparer.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The declarations in one preprocessed kernel file.</summary>
    public static IReadOnlyList<KernelDeclaration> Parse(string file, string preprocessed)
    {
        var structs = new Dictionary<string, CType>(StringComparer.Ordinal);
        var declarations = new List<KernelDeclaration>();
        foreach (Match m in Kernel.Matches(preprocessed))
        {
            string name = m.Groups[1].Value;
            string list = m.Groups[2].Value.Trim();
            var types = new List<(string Name, CType Type)>();
            if (list is not ("" or "void"))
            {
                foreach (var parameter in list.Split(','))
                {
                    var (type, parameterName) = SplitDeclarator(parameter, $"{file}: kernel {name}");
                    types.Add((parameterName, Resolve(type, preprocessed, structs, $"{file}: kernel {name}, parameter '{parameterName}'")));
                }
            }
            declarations.Add(new KernelDeclaration(file, name, Lay(types).Members));
        }
        return declarations;
    }

    /// <summary>Runs the C preprocessor (g++ -E, a bootstrap dependency through the kernel emulator) over one file.</summary>
    private static string Preprocess(string path)
    {
        var psi = new ProcessStartInfo("g++", ["-E", "-P", "-x", "c++", "-std=c++17", "-w", path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("g++ could not be started");
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"g++ -E {Path.GetFileName(path)} failed ({process.ExitCode}): {error.Result}");
        return output;
    }

    /// <summary>"const bf16* __restrict__ x" as ("const bf16*", "x").</summary>
    private static (string Type, string Name) SplitDeclarator(string declaration, string where)
    {
        var m = Regex.Match(declaration.Trim(), @"^(.*?)\s*\b(\w+)$", RegexOptions.Singleline);
        if (!m.Success || m.Groups[1].Value.Length == 0)
            throw new FormatException($"{where}: cannot read the declaration '{declaration.Trim()}' (expected a type and a name)");
        return (m.Groups[1].Value, m.Groups[2].Value);
    }

    private static CType Resolve(string spelling, string source, Dictionary<string, CType> structs, string where)
    {
        string type = Regex.Replace(spelling, @"\b(const|volatile|__restrict__|__restrict|struct)\b", " ");
        type = Regex.Replace(type, @"\s+", " ").Trim();
        string shown = Regex.Replace(spelling, @"\s+", " ").Trim();
        if (type.Contains('*'))
            return new CType(shown, CKind.Pointer, 8, 8, []);
        CKind? kind = type switch
        {
            "signed char" or "char" => CKind.Int8,
            "unsigned char" => CKind.UInt8,
            "short" or "short int" or "signed short" => CKind.Int16,
            "unsigned short" or "unsigned short int" => CKind.UInt16,
            "int" or "signed" or "signed int" => CKind.Int32,
            "unsigned" or "unsigned int" => CKind.UInt32,
            "long long" or "long long int" or "signed long long" => CKind.Int64,
            "unsigned long long" or "unsigned long long int" => CKind.UInt64,
            "float" => CKind.Float32,
            "double" => CKind.Float64,
            _ => null,
        };
        if (kind is { } k)
        {
            int size = k switch
            {
                CKind.Int8 or CKind.UInt8 => 1,
                CKind.Int16 or CKind.UInt16 => 2,
                CKind.Int32 or CKind.UInt32 or CKind.Float32 => 4,
                _ => 8,
            };
            return new CType(shown, k, size, size, []);
        }
        if (type is "long" or "unsigned long" or "long int" or "bool" or "size_t")
            throw new FormatException($"{where}: '{shown}' has no size the host and device agree on for a launch; use int, long long, float or a pointer");
        if (!Regex.IsMatch(type, @"^\w+$"))
            throw new FormatException($"{where}: unknown parameter type '{shown}'");
        return StructType(type, source, structs, where);
    }

    /// <summary>A struct passed by value, laid out as C lays it out (members at their natural alignment, __align__ honoured).</summary>
    private static CType StructType(string name, string source, Dictionary<string, CType> structs, string where)
    {
        if (structs.TryGetValue(name, out var known))
            return known;
        var head = StructHead.Matches(source).FirstOrDefault(h => h.Groups[2].Value == name)
            ?? throw new FormatException($"{where}: type '{name}' is neither a C scalar, a pointer nor a struct defined in the file");
        int open = head.Index + head.Length - 1, depth = 0, close = open;
        for (; close < source.Length; close++)
        {
            depth += source[close] switch { '{' => 1, '}' => -1, _ => 0 };
            if (depth == 0) break;
        }
        string body = source[(open + 1)..close];
        var members = new List<(string, CType)>();
        foreach (var statement in TopLevelStatements(body))
        {
            if (statement.Contains('(') || Regex.IsMatch(statement, @"^\s*(static|using|typedef|template|friend)\b"))
                continue; // member functions, constructors and static members take no room in an instance
            string declaration = Regex.Replace(statement, @"=.*$", "", RegexOptions.Singleline);
            var parts = declaration.Split(',');
            var (type, first) = SplitDeclarator(parts[0], $"{where} (struct {name})");
            foreach (var member in parts.Skip(1).Select(p => p.Trim()).Prepend(first))
            {
                if (!Regex.IsMatch(member, @"^\w+$"))
                    throw new FormatException($"{where} (struct {name}): cannot read member '{member}' (arrays and bit fields are not read)");
                members.Add((member, Resolve(type, source, structs, $"{where} (struct {name}.{member})")));
            }
        }
        int declaredAlignment = head.Groups[1].Success ? int.Parse(head.Groups[1].Value) : 1;
        var (laid, size, alignment) = Lay(members, declaredAlignment);
        var result = new CType(name, CKind.Struct, size, alignment, laid);
        structs[name] = result;
        return result;
    }

    private static IEnumerable<string> TopLevelStatements(string body)
    {
        int depth = 0, start = 0;
        for (int i = 0; i < body.Length; i++)
        {
            depth += body[i] switch { '{' or '(' => 1, '}' or ')' => -1, _ => 0 };
            if (depth == 0 && (body[i] == ';' || body[i] == '}'))
            {
                string statement = body[start..i].Trim();
                if (statement.Length > 0) yield return statement;
                start = i + 1;
            }
        }
    }

    private static (IReadOnlyList<CMember> Members, int Size, int Alignment) Lay(IReadOnlyList<(string Name, CType Type)> members, int minimumAlignment = 1)
    {
        int offset = 0, alignment = minimumAlignment;
        var laid = new List<CMember>();
        foreach (var (name, type) in members)
        {
            offset = (offset + type.Alignment - 1) / type.Alignment * type.Alignment;
            laid.Add(new CMember(name, type, offset));
            offset += type.Size;
            alignment = Math.Max(alignment, type.Alignment);
        }
        return (laid, (offset + alignment - 1) / alignment * alignment, alignment);
    }
}
