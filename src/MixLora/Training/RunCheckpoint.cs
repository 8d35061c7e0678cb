using MixLora.Tensors;
using System.Text.Json;
using System.Text.Json.Nodes;
using MixLora.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>
/// The resume point of a whole run: every adapter's weights and training state plus the global random state, taken
/// at one fused step and published atomically (written to <c>checkpoint.partial</c>, then swapped in), so a crash or
/// SIGKILL at any moment leaves either the previous or the new checkpoint. Each adapter's sub-folder is also a
/// loadable adapter (adapter_config.json + adapter_model.safetensors).
/// </summary>
public static class RunCheckpoint
{
    public const string FolderName = "checkpoint";
    private const string RunFile = "run.json";
    private const string GradientsSuffix = ".gradients.safetensors";

    public static string PathIn(string outputDir) => Path.Combine(outputDir, FolderName);

    /// <summary>Writes the checkpoint of all <paramref name="tasks"/> after fused step <paramref name="step"/>.</summary>
    public static void Save(string outputDir, IReadOnlyList<AdapterTask> tasks, long step)
    {
        string target = PathIn(outputDir), partial = target + ".partial", old = target + ".old";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        foreach (var task in tasks)
        {
            using var scope = NewDisposeScope();
            var tensors = task.Adapter.NamedTensors.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach())).ToList();
            using var state = task.CaptureState();
            CheckpointStore.Save(Path.Combine(partial, task.Name), tensors, state,
                dir => File.WriteAllText(Path.Combine(dir, AdapterFolder.ConfigFileName), task.Adapter.Config.ToJson()));
            // Gradients accumulated towards the next optimizer step (save_step counts micro-steps, so a checkpoint can
            // fall inside an accumulation window).
            var pending = task.Adapter.NamedTensors.Where(kv => kv.Value.grad is not null)
                .Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.grad!)).ToList();
            SafeTensorsFile.Save(Path.Combine(partial, task.Name + GradientsSuffix), pending);
        }
        var run = new JsonObject
        {
            ["step"] = step,
            ["torch_rng"] = Convert.ToBase64String(GeneratorState.Capture()),
            ["adapters"] = new JsonArray(tasks.Select(t => (JsonNode)t.Name).ToArray()),
        };
        AtomicFile.WriteAllText(Path.Combine(partial, RunFile), run.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(target)) Directory.Move(target, old);
        Directory.Move(partial, target);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    /// <summary>The folder to resume from (the finished checkpoint, or the previous one if a swap was interrupted), or null.</summary>
    public static string? Find(string outputDir)
    {
        string target = PathIn(outputDir), old = target + ".old";
        if (File.Exists(Path.Combine(target, RunFile))) return target;
        if (File.Exists(Path.Combine(old, RunFile))) return old;
        return null;
    }

    /// <summary>Restores every task and the global random state; returns the fused step the checkpoint was taken after.</summary>
    public static long Restore(string folder, IReadOnlyList<AdapterTask> tasks)
    {
        var runPath = Path.Combine(folder, RunFile);
        JsonNode run;
        try { run = JsonNode.Parse(File.ReadAllText(runPath)) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new InvalidFileException(runPath, "not a valid run checkpoint: " + e.Message); }
        var names = run["adapters"]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [];
        var expected = tasks.Select(t => t.Name).ToList();
        if (!names.SequenceEqual(expected))
            throw new InvalidFileException(runPath, $"the checkpoint is for adapters [{string.Join(", ", names)}] but the config has [{string.Join(", ", expected)}]");
        foreach (var task in tasks)
        {
            using var checkpoint = CheckpointStore.Load(Path.Combine(folder, task.Name));
            task.Restore(checkpoint);
            var gradients = SafeTensorsFile.Load(Path.Combine(folder, task.Name + GradientsSuffix));
            foreach (var (name, parameter) in task.Adapter.NamedTensors)
                parameter.grad = gradients.Remove(name, out var g) ? g : null;
        }
        GeneratorState.Restore(Convert.FromBase64String(run["torch_rng"]!.GetValue<string>()));
        return run["step"]!.GetValue<long>();
    }
}
