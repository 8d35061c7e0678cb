using System.Runtime.InteropServices;

namespace MixLora.Tests.Support;

/// <summary>
/// Device nodes and FIFOs made in a temporary folder (copies of /dev/full and /dev/null, which needs root as CI runs),
/// so a regression that renamed over them could never replace the machine's own /dev entries.
/// </summary>
public static class DeviceNodes
{
    private const uint CharDevice = 0x2000, ReadWrite = 0x1B6;                // S_IFCHR, rw-rw-rw-
    public const ulong Null = (1 << 8) | 3, Full = (1 << 8) | 7;             // makedev(1, 3), makedev(1, 7)

    /// <summary>The path of a new character device in <paramref name="dir"/>, or null when mknod is not allowed (not root).</summary>
    public static string? Make(TempDir dir, string name, ulong device)
    {
        string path = dir.File(name);
        return OperatingSystem.IsLinux() && MakeNode(path, CharDevice | ReadWrite, device) == 0 ? path : null;
    }

    /// <summary>mkfifo(2); 0 on success.</summary>
    public static int MakeFifo(string path, uint mode) => MakeFifoNative(path, mode);

    [DllImport("libc", EntryPoint = "mknod", SetLastError = true)]
    private static extern int MakeNode([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode, ulong device);

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MakeFifoNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);
}
