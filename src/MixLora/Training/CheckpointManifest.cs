using System.Text.Json;
using System.Text.Json.Nodes;

namespace MixLora.Training;

/// <summary>
/// The parsed training_state.json: every scalar of a <see cref="TrainingState"/>, the names of the tensors stored in
/// training_state.safetensors, and the size and SHA-256 of each other file of the checkpoint (written last, so its
/// presence marks a complete checkpoint).
/// </summary>
internal sealed record CheckpointManifest
{
    public const string Format = "mixlora-training-state";
    public const int Version = 1;

    public required string OptimizerKind { get; init; }
    public required double LearningRateScale { get; init; }
    public required IReadOnlyDictionary<string, double> Hyperparameters { get; init; }
    public required IReadOnlyDictionary<string, (long Step, IReadOnlyList<string> Buffers)> Parameters { get; init; }
    public required int SchedulerStep { get; init; }
    public required long MicroStep { get; init; }
    public required long OptimizerStep { get; init; }
    public required int Epoch { get; init; }
    public required int DataCursor { get; init; }
    public required int[] DataOrder { get; init; }
    public required IReadOnlyList<string> RandomStates { get; init; }
    public required IReadOnlyDictionary<string, string> Extra { get; init; }
    public required IReadOnlyDictionary<string, (long Bytes, string Sha256)> Files { get; init; }

    /// <summary>The manifest of <paramref name="state"/>, listing <paramref name="files"/> (relative path → size, SHA-256).</summary>
    public static CheckpointManifest From(TrainingState state, IReadOnlyDictionary<string, (long Bytes, string Sha256)> files) => new()
    {
        OptimizerKind = state.Optimizer.Kind,
        LearningRateScale = state.Optimizer.LearningRateScale,
        Hyperparameters = state.Optimizer.Hyperparameters,
        Parameters = state.Optimizer.Parameters.ToDictionary(
            kv => kv.Key, kv => (kv.Value.Step, (IReadOnlyList<string>)[.. kv.Value.Buffers.Keys]), StringComparer.Ordinal),
        SchedulerStep = state.SchedulerStep,
        MicroStep = state.MicroStep,
        OptimizerStep = state.OptimizerStep,
        Epoch = state.Epoch,
        DataCursor = state.DataCursor,
        DataOrder = state.DataOrder,
        RandomStates = [.. state.RandomStates.Keys.Order(StringComparer.Ordinal)],
        Extra = state.Extra,
        Files = files,
    };

    public string ToJson()
    {
        var parameters = new JsonObject();
        foreach (var (name, (step, buffers)) in Parameters)
            parameters[name] = new JsonObject { ["step"] = step, ["buffers"] = new JsonArray([.. buffers.Select(b => JsonValue.Create(b))]) };
        var files = new JsonObject();
        foreach (var (name, (bytes, sha)) in Files) files[name] = new JsonObject { ["bytes"] = bytes, ["sha256"] = sha };

        var root = new JsonObject
        {
            ["format"] = Format,
            ["version"] = Version,
            ["optimizer"] = new JsonObject
            {
                ["kind"] = OptimizerKind,
                ["learning_rate_scale"] = LearningRateScale,
                ["hyperparameters"] = ToObject(Hyperparameters, v => JsonValue.Create(v)),
                ["parameters"] = parameters,
            },
            ["scheduler_step"] = SchedulerStep,
            ["micro_step"] = MicroStep,
            ["optimizer_step"] = OptimizerStep,
            ["epoch"] = Epoch,
            ["data_cursor"] = DataCursor,
            ["data_order"] = new JsonArray([.. DataOrder.Select(i => JsonValue.Create(i))]),
            ["random_states"] = new JsonArray([.. RandomStates.Select(n => JsonValue.Create(n))]),
            ["extra"] = ToObject(Extra, v => JsonValue.Create(v)),
            ["files"] = files,
        };
        // Doubles are written in their shortest round-trip form, so the scale and hyperparameters come back bit-exact.
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <exception cref="InvalidFileException">Not JSON, another format or version, or a missing or mistyped field.</exception>
    public static CheckpointManifest Parse(string path, string json)
    {
        JsonNode? parsed;
        try { parsed = JsonNode.Parse(json); }
        catch (JsonException ex) { throw new InvalidFileException(path, $"not valid JSON ({ex.Message})", ex); }
        var root = AsObject(path, parsed, "(root)");
        var reader = new ManifestReader(path);

        var format = reader.String(root, "format");
        if (format != Format) throw new InvalidFileException(path, $"\"format\" is '{format}', expected '{Format}'");
        var version = reader.Long(root, "version");
        if (version != Version) throw new InvalidFileException(path, $"\"version\" is {version}; this build reads version {Version}");

        var optimizer = reader.Object(root, "optimizer");
        var parameters = new SortedDictionary<string, (long, IReadOnlyList<string>)>(StringComparer.Ordinal);
        foreach (var (name, node) in reader.Object(optimizer, "parameters"))
        {
            var entry = AsObject(path, node, $"optimizer.parameters.{name}");
            var buffers = reader.Array(entry, "buffers").Select((b, i) => reader.String(b, $"optimizer.parameters.{name}.buffers[{i}]")).ToList();
            parameters[name] = (reader.Long(entry, "step", min: 1), buffers);
        }
        var files = new SortedDictionary<string, (long, string)>(StringComparer.Ordinal);
        foreach (var (name, node) in reader.Object(root, "files"))
        {
            var entry = AsObject(path, node, $"files.{name}");
            files[name] = (reader.Long(entry, "bytes"), reader.String(entry, "sha256"));
        }

        return new CheckpointManifest
        {
            OptimizerKind = reader.String(optimizer, "kind"),
            LearningRateScale = reader.Double(optimizer, "learning_rate_scale"),
            Hyperparameters = reader.Object(optimizer, "hyperparameters")
                .ToDictionary(kv => kv.Key, kv => reader.Double(kv.Value, $"optimizer.hyperparameters.{kv.Key}"), StringComparer.Ordinal),
            Parameters = parameters,
            SchedulerStep = reader.Int(root, "scheduler_step"),
            MicroStep = reader.Long(root, "micro_step"),
            OptimizerStep = reader.Long(root, "optimizer_step"),
            Epoch = reader.Int(root, "epoch"),
            DataCursor = reader.Int(root, "data_cursor"),
            DataOrder = [.. reader.Array(root, "data_order").Select((n, i) => (int)reader.Long(n, $"data_order[{i}]", 0, int.MaxValue))],
            RandomStates = [.. reader.Array(root, "random_states").Select((n, i) => reader.String(n, $"random_states[{i}]"))],
            Extra = reader.Object(root, "extra")
                .ToDictionary(kv => kv.Key, kv => reader.String(kv.Value, $"extra.{kv.Key}"), StringComparer.Ordinal),
            Files = files,
        };
    }

    private static JsonObject ToObject<T>(IReadOnlyDictionary<string, T> values, Func<T, JsonNode?> convert)
    {
        var result = new JsonObject();
        foreach (var (key, value) in values.OrderBy(kv => kv.Key, StringComparer.Ordinal)) result[key] = convert(value);
        return result;
    }

    private static JsonObject AsObject(string path, JsonNode? node, string key) =>
        node as JsonObject ?? throw new InvalidFileException(path, $"\"{key}\" must be a JSON object");
}
