namespace MixLora.IO;

/// <summary>
/// Writes files via a temporary file in the same folder and a rename, so readers never see half a file. A symbolic
/// link is written through (its target is replaced, the link stays); a device, FIFO or socket is written in place and
/// never replaced by a regular file; a folder is refused.
/// </summary>
public static class AtomicFile
{
    /// <summary>Calls <paramref name="write"/> with a temporary path, then moves it over <paramref name="path"/>.</summary>
    /// <exception cref="MixLoraException"><paramref name="path"/> is a folder, or a device or FIFO could not take the bytes.</exception>
    public static void Write(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        // Write through symbolic links: renaming over the link itself would replace it with a regular file.
        var info = new FileInfo(full);
        if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target) full = target.FullName;
        switch (FileKinds.Of(full))
        {
            case FileKind.Directory:
                throw new MixLoraException($"{path}: is a folder; expected the path of a file to write");
            case FileKind.Special:
                WriteInPlace(path, full, write);
                return;
        }
        var dir = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteAllText(string path, string text) => Write(path, temp => File.WriteAllText(temp, text));

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, temp => File.WriteAllBytes(temp, bytes));

    public static void Copy(string source, string destination) => Write(destination, temp => File.Copy(source, temp));

    /// <summary>A device or FIFO (e.g. /dev/null, a named pipe): the finished bytes are streamed into it.</summary>
    private static void WriteInPlace(string path, string full, Action<string> write)
    {
        var temp = Path.Combine(Path.GetTempPath(), $"mixlora-{Guid.NewGuid():N}.tmp");
        try
        {
            write(temp);
            try
            {
                using var source = File.OpenRead(temp);
                using var sink = new FileStream(full, FileMode.Open, FileAccess.Write);
                source.CopyTo(sink);
                sink.Flush();
            }
            catch (IOException e)
            {
                throw new MixLoraException($"{path}: could not write to this device or pipe ({e.Message})", e);
            }
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
