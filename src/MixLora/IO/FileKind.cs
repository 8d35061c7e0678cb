using System.Runtime.InteropServices;

namespace MixLora.IO;

/// <summary>What a path names, as far as writing a file to it is concerned.</summary>
public enum FileKind
{
    /// <summary>Nothing exists there yet.</summary>
    Missing,
    /// <summary>A regular file (safe to replace with a rename).</summary>
    Regular,
    /// <summary>A folder.</summary>
    Directory,
    /// <summary>A character or block device, FIFO or socket: written in place, never replaced.</summary>
    Special,
}

/// <summary>The kind of a path after following symbolic links (Linux statx; elsewhere only regular/folder/missing).</summary>
public static class FileKinds
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28; // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid, u32 gid, u16 mode
    private const int TypeMask = 0xF000, Regular = 0x8000, Folder = 0x4000;

    public static FileKind Of(string path)
    {
        if (Directory.Exists(path)) return FileKind.Directory;
        if (!File.Exists(path)) return FileKind.Missing;
        if (!OperatingSystem.IsLinux()) return FileKind.Regular;
        var buffer = new byte[256];
        try
        {
            if (Statx(AtFdCwd, path, 0, StatxType, buffer) != 0) return FileKind.Regular;
        }
        catch (EntryPointNotFoundException) { return FileKind.Regular; }
        catch (DllNotFoundException) { return FileKind.Regular; }
        int type = BitConverter.ToUInt16(buffer, ModeOffset) & TypeMask;
        return type switch
        {
            Regular => FileKind.Regular,
            Folder => FileKind.Directory,
            _ => FileKind.Special,
        };
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}
