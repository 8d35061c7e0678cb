namespace MixLora.Training;

/// <summary>
/// The output folder of a training run. A fresh run never mixes its checkpoint and adapters with an earlier run's and
/// never replaces one silently: a non-empty folder needs <c>--resume</c> or <c>--overwrite</c>. Overwriting deletes only
/// what a run writes (the checkpoint and the adapter folders), never other files such as a config or data kept there.
/// </summary>
public static class RunFolder
{
    /// <summary>Makes <paramref name="dir"/> ready for a run.</summary>
    /// <returns>The outermost folder created here (the run folder or a missing parent), or null when it existed; see <see cref="RemoveIfEmpty"/>.</returns>
    /// <exception cref="MixLoraException">The folder holds files and neither option allows using it.</exception>
    public static string? Prepare(string dir, bool resume, bool overwrite)
    {
        ThrowIfUnusable(dir, resume, overwrite);
        if (Directory.Exists(dir))
        {
            if (!resume)
                foreach (var folder in RunArtefacts(dir)) Directory.Delete(folder, recursive: true);
            return null;
        }
        var outermost = Path.GetFullPath(dir);
        while (Path.GetDirectoryName(outermost) is { } parent && !Directory.Exists(parent)) outermost = parent;
        Directory.CreateDirectory(dir);
        return outermost;
    }

    /// <summary>The check of <see cref="Prepare"/> alone, changing nothing (to fail before a model is loaded).</summary>
    /// <exception cref="MixLoraException">The folder holds files and neither option allows using it.</exception>
    public static void ThrowIfUnusable(string dir, bool resume, bool overwrite)
    {
        if (resume || overwrite || !Directory.Exists(dir) || !Directory.EnumerateFileSystemEntries(dir).Any()) return;
        throw new MixLoraException(RunSummary.IsRunFolder(dir)
            ? $"{dir}: holds an earlier training run; continue it with --resume, or start again with --overwrite (deletes its checkpoint and adapters)"
            : $"{dir}: the output folder is not empty; choose another --output, or pass --overwrite to write into it (its files are kept)");
    }

    /// <summary>After a failed run: deletes the folder <see cref="Prepare"/> created when it holds no file at any depth.</summary>
    public static void RemoveIfEmpty(string? createdFolder)
    {
        if (createdFolder is not null && Directory.Exists(createdFolder)
            && !Directory.EnumerateFiles(createdFolder, "*", SearchOption.AllDirectories).Any())
            Directory.Delete(createdFolder, recursive: true);
    }

    /// <summary>The sub-folders a run writes: the checkpoint (with an interrupted swap's leftovers) and the adapter folders.</summary>
    private static IEnumerable<string> RunArtefacts(string dir)
    {
        var checkpoint = RunCheckpoint.PathIn(dir);
        return Directory.EnumerateDirectories(dir)
            .Where(d => !new DirectoryInfo(d).Attributes.HasFlag(FileAttributes.ReparsePoint))
            .Where(d => d == checkpoint || d == checkpoint + ".partial" || d == checkpoint + ".old"
                        || File.Exists(Path.Combine(d, MetricsLog.FileName)) || File.Exists(Path.Combine(d, IO.AdapterFolder.ConfigFileName)))
            .ToList();
    }
}
