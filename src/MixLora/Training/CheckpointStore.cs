using System.Security.Cryptography;
using MixLora.IO;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>
/// Saves and loads training checkpoints: a folder with adapter_model.safetensors (the weights),
/// training_state.safetensors (optimizer buffers as "{parameter}.{buffer}", generator states as U8
/// "random_state.{name}"), any files the caller adds, and training_state.json (everything else, plus the size and
/// SHA-256 of every other file; written last).
/// A save goes to a sibling folder ".{name}.partial" that replaces the old checkpoint only once complete (old moved
/// to ".{name}.old", new renamed in, old deleted), so a process killed at any point leaves the old or the new
/// checkpoint, never a mix; the next <see cref="Save"/> or <see cref="Load"/> finishes or undoes an interrupted swap.
/// (Files are flushed to disk, folders are not fsynced: this protects against a killed process, not a power cut.)
/// </summary>
public static class CheckpointStore
{
    public const string AdapterFileName = AdapterFolder.SafeTensorsFileName;
    public const string StateTensorsFileName = "training_state.safetensors";
    public const string StateJsonFileName = "training_state.json";
    private const string RandomStatePrefix = "random_state.";
    private const long MaxJsonBytes = 1L << 30;

    /// <summary>
    /// Writes a checkpoint of <paramref name="adapterTensors"/> and <paramref name="state"/> to <paramref name="dir"/>,
    /// replacing the previous one atomically. <paramref name="writeExtraFiles"/> may add files (for example
    /// adapter_config.json, making the folder a loadable adapter) to the folder it is given.
    /// </summary>
    /// <exception cref="MixLoraException"><paramref name="dir"/> exists but is not a checkpoint, or the optimizer
    /// state names a parameter that is not among the adapter tensors.</exception>
    public static void Save(string dir, IReadOnlyList<KeyValuePair<string, Tensor>> adapterTensors, TrainingState state,
        Action<string>? writeExtraFiles = null)
    {
        ArgumentNullException.ThrowIfNull(adapterTensors);
        ArgumentNullException.ThrowIfNull(state);
        var (target, partial, old) = Paths(dir);
        Recover(target, partial, old);
        if (Directory.Exists(target) && !File.Exists(Path.Combine(target, StateJsonFileName))
            && Directory.EnumerateFileSystemEntries(target).Any())
            throw new MixLoraException($"{target}: the folder exists and is not a checkpoint (no {StateJsonFileName}); refusing to replace it");
        var adapterNames = adapterTensors.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        var stray = state.Optimizer.Parameters.Keys.FirstOrDefault(n => !adapterNames.Contains(n));
        if (stray is not null)
            throw new MixLoraException($"{target}: optimizer state for '{stray}', which is not one of the adapter tensors being saved");

        Directory.CreateDirectory(partial);
        try
        {
            SafeTensorsFile.Save(Path.Combine(partial, AdapterFileName), adapterTensors);
            WriteStateTensors(Path.Combine(partial, StateTensorsFileName), state);
            writeExtraFiles?.Invoke(partial);
            var manifest = CheckpointManifest.From(state, HashFiles(partial));
            AtomicFile.Write(Path.Combine(partial, StateJsonFileName), temp =>
            {
                using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
                using (var writer = new StreamWriter(file, leaveOpen: true)) writer.Write(manifest.ToJson());
                file.Flush(flushToDisk: true);
            });
        }
        catch
        {
            DeleteFolder(partial);
            throw;
        }

        if (Directory.Exists(target)) Directory.Move(target, old);
        Directory.Move(partial, target);
        DeleteFolder(old);
    }

    /// <summary>True when <paramref name="dir"/> holds a checkpoint, or an interrupted save left one that <see cref="Load"/> will recover.</summary>
    public static bool Exists(string dir)
    {
        var (target, partial, old) = Paths(dir);
        return HasManifest(target) || (!Directory.Exists(target) && (HasManifest(old) || (Directory.Exists(old) && HasManifest(partial))));
    }

    /// <summary>Reads the checkpoint in <paramref name="dir"/> (after completing or undoing an interrupted save), checking every file against the manifest.</summary>
    /// <exception cref="InvalidFileException">No checkpoint there, or a file is missing, truncated, modified or inconsistent.</exception>
    public static Checkpoint Load(string dir)
    {
        var (target, partial, old) = Paths(dir);
        Recover(target, partial, old);
        if (!Directory.Exists(target)) throw new InvalidFileException(target, "no checkpoint here (folder not found)");
        var jsonPath = Path.Combine(target, StateJsonFileName);
        var info = new FileInfo(jsonPath);
        if (!info.Exists) throw new InvalidFileException(jsonPath, "not found; the folder is not a complete training checkpoint");
        if (info.Length > MaxJsonBytes) throw new InvalidFileException(jsonPath, $"{info.Length} bytes is too large for a training state");
        var manifest = CheckpointManifest.Parse(jsonPath, File.ReadAllText(jsonPath));
        VerifyFiles(target, manifest);
        return CheckpointReader.Read(target, manifest);
    }

    private static void WriteStateTensors(string path, TrainingState state)
    {
        using var scope = NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, parameterState) in state.Optimizer.Parameters)
            foreach (var (key, buffer) in parameterState.Buffers)
                tensors.Add(new($"{name}.{key}", buffer));
        foreach (var (name, bytes) in state.RandomStates.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            tensors.Add(new(RandomStatePrefix + name, tensor(bytes, dtype: ScalarType.Byte)));
        SafeTensorsFile.Save(path, tensors);
    }

    internal static string RandomStateKey(string name) => RandomStatePrefix + name;

    private static SortedDictionary<string, (long, string)> HashFiles(string folder)
    {
        var result = new SortedDictionary<string, (long, string)>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(folder, file).Replace(Path.DirectorySeparatorChar, '/');
            if (relative == StateJsonFileName) continue;
            using var stream = File.OpenRead(file);
            result[relative] = (stream.Length, Convert.ToHexStringLower(SHA256.HashData(stream)));
        }
        return result;
    }

    private static void VerifyFiles(string folder, CheckpointManifest manifest)
    {
        foreach (var required in new[] { AdapterFileName, StateTensorsFileName })
            if (!manifest.Files.ContainsKey(required))
                throw new InvalidFileException(Path.Combine(folder, StateJsonFileName), $"\"files\" does not list {required}");
        foreach (var (name, (bytes, sha)) in manifest.Files)
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path)) throw new InvalidFileException(path, "missing (listed in the checkpoint manifest)");
            using var stream = File.OpenRead(path);
            if (stream.Length != bytes)
                throw new InvalidFileException(path, $"is {stream.Length} bytes but the checkpoint recorded {bytes}; truncated or modified");
            if (Convert.ToHexStringLower(SHA256.HashData(stream)) != sha)
                throw new InvalidFileException(path, "content does not match the SHA-256 recorded in the checkpoint; corrupt or modified");
        }
    }

    private static (string Target, string Partial, string Old) Paths(string dir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        var parent = Path.GetDirectoryName(target) ?? throw new MixLoraException($"{dir}: a checkpoint cannot be the root folder");
        var name = Path.GetFileName(target);
        return (target, Path.Combine(parent, $".{name}.partial"), Path.Combine(parent, $".{name}.old"));
    }

    private static bool HasManifest(string folder) => File.Exists(Path.Combine(folder, StateJsonFileName));

    /// <summary>Finishes or undoes a swap interrupted by a crash, and removes leftovers.</summary>
    private static void Recover(string target, string partial, string old)
    {
        if (!Directory.Exists(target) && Directory.Exists(old))
        {
            // Killed between the two renames: the partial folder is complete if its manifest exists (it is written last).
            Directory.Move(HasManifest(partial) ? partial : old, target);
        }
        DeleteFolder(partial);
        DeleteFolder(old);
    }

    private static void DeleteFolder(string folder)
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }
}
