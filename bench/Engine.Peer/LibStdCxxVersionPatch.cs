using System.Text;

namespace CoAR.Engine.Peer;

/// <summary>
/// TorchSharp 0.107's libLibTorchSharp.so lists GLIBCXX_3.4.32 (GCC 13's libstdc++) among the versions it needs, for
/// one symbol (std::ios_base_library_init) that no relocation uses; Debian 12's libstdc++ stops at 3.4.30, so the
/// loader refuses the library. This marks that version need weak (VER_FLG_WEAK) in the copy in this program's own
/// output folder, which the loader then accepts. Only the bench's copy is touched; nothing of the engine is involved.
/// </summary>
public static class LibStdCxxVersionPatch
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>Versions the system libstdc++ may lack, and that libLibTorchSharp.so names without needing them.</summary>
    private static readonly string[] UnusedVersions = ["GLIBCXX_3.4.31", "GLIBCXX_3.4.32", "GLIBCXX_3.4.33"];

    /// <summary>Patches every libLibTorchSharp.so under <paramref name="folder"/>; returns how many version needs were weakened.</summary>
    public static int Apply(string folder)
    {
        int patched = 0;
        foreach (var path in Directory.EnumerateFiles(folder, "libLibTorchSharp.so", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(path);
            int n = WeakenVersionNeeds(bytes);
            if (n == 0) continue;
            string temp = path + ".patching";
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
            patched += n;
        }
        return patched;
    }

    /// <summary>Sets VER_FLG_WEAK on the vernaux entries of <see cref="UnusedVersions"/> in an ELF64 little-endian image.</summary>
    private static int WeakenVersionNeeds(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("libLibTorchSharp.so is not a 64-bit little-endian ELF file");
        long shoff = BitConverter.ToInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        int count = 0;
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = BitConverter.ToInt64(elf, (int)sh + 0x18);
            int link = BitConverter.ToInt32(elf, (int)sh + 0x28);
            long strtab = BitConverter.ToInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            for (long vn = offset; ; )
            {
                int cnt = BitConverter.ToUInt16(elf, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    string name = ReadString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    int flagsAt = (int)aux + 4;
                    ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                    if (UnusedVersions.Contains(name) && (flags & VerFlagWeak) == 0)
                    {
                        BitConverter.TryWriteBytes(elf.AsSpan(flagsAt, 2), (ushort)(flags | VerFlagWeak));
                        count++;
                    }
                    uint nextAux = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = BitConverter.ToUInt32(elf, (int)vn + 12);
                if (next == 0) break;
                vn += next;
            }
        }
        return count;
    }

    private static string ReadString(byte[] elf, long at)
    {
        int end = Array.IndexOf(elf, (byte)0, (int)at);
        return Encoding.ASCII.GetString(elf, (int)at, end - (int)at);
    }
}
