namespace MixLora.IO;

/// <summary>
/// An output location that cannot be written: found before any work starts, so a long evaluation or training run
/// never ends in a crash that throws its results away. The CLI exits with code 2 (a usage error).
/// </summary>
public sealed class OutputLocationException(string message) : MixLoraException(message);

/// <summary>
/// Checks output paths up front: the target is of the right kind, and the folder that will hold it exists or can be
/// created and accepts new files (probed by creating and deleting a file, which also catches read-only mounts and
/// missing permissions that mode bits alone do not show). "-" means standard output where a command allows it.
/// </summary>
public static class OutputPath
{
    /// <summary>The path that means "write to standard output".</summary>
    public const string StandardOutput = "-";

    public static bool IsStandardOutput(string path) => path == StandardOutput;

    /// <summary>A file will be written at <paramref name="path"/> (replacing any file there).</summary>
    /// <param name="what">Names the output in the message, e.g. "--output".</param>
    /// <exception cref="OutputLocationException">A folder is in the way, or the file's folder cannot be created or written.</exception>
    public static void CheckFile(string path, string what)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new OutputLocationException($"{what} {path}: is a folder; give the path of a file to write");
        CheckCanCreateIn(Path.GetDirectoryName(full) ?? full, path, what);
    }

    /// <summary>A folder will be created (if needed) at <paramref name="path"/> and files written into it.</summary>
    /// <exception cref="OutputLocationException">A file is in the way, or the folder cannot be created or written.</exception>
    public static void CheckFolder(string path, string what)
    {
        if (IsStandardOutput(path)) throw new OutputLocationException($"{what} -: this output is a folder; standard output cannot hold it");
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new OutputLocationException($"{what} {path}: is a file; give the path of a folder");
        CheckCanCreateIn(full, path, what);
    }

    /// <summary>Finds the nearest existing ancestor of <paramref name="folder"/> (itself included) and probes that a file can be created there.</summary>
    private static void CheckCanCreateIn(string folder, string path, string what)
    {
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
                throw new OutputLocationException($"{what} {path}: {existing} is a file, so the folder cannot be created there");
            existing = Path.GetDirectoryName(existing)
                       ?? throw new OutputLocationException($"{what} {path}: no existing folder above it");
        }
        var probe = Path.Combine(existing, $".mixlora-write-probe-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var where = existing == folder ? existing : $"{existing} (where {folder} would be created)";
            throw new OutputLocationException($"{what} {path}: cannot write in {where}: {e.Message}");
        }
    }
}
