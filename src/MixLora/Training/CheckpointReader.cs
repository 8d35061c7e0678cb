using MixLora.IO;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>Turns a verified checkpoint folder and its manifest into a <see cref="Checkpoint"/>, checking that they agree.</summary>
internal static class CheckpointReader
{
    public static Checkpoint Read(string folder, CheckpointManifest manifest)
    {
        var jsonPath = Path.Combine(folder, CheckpointStore.StateJsonFileName);
        var adapterPath = Path.Combine(folder, CheckpointStore.AdapterFileName);
        var statePath = Path.Combine(folder, CheckpointStore.StateTensorsFileName);

        OrderedDictionary<string, Tensor>? adapter = null;
        OrderedDictionary<string, Tensor>? stored = null;
        var parameterStates = new Dictionary<string, ParameterState>(StringComparer.Ordinal);
        try
        {
            adapter = SafeTensorsFile.Load(adapterPath);
            foreach (var t in adapter.Values) t.DetachFromDisposeScope();
            stored = SafeTensorsFile.Load(statePath);
            foreach (var t in stored.Values) t.DetachFromDisposeScope();

            var expectedKeys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, (step, buffers)) in manifest.Parameters)
            {
                if (!adapter.TryGetValue(name, out var weight))
                    throw new InvalidFileException(jsonPath, $"optimizer state for '{name}', which is not in {CheckpointStore.AdapterFileName}");
                var parameterState = new ParameterState(step);
                parameterStates[name] = parameterState;
                foreach (var key in buffers)
                {
                    var tensorName = $"{name}.{key}";
                    if (!expectedKeys.Add(tensorName) || !stored.Remove(tensorName, out var buffer))
                        throw new InvalidFileException(statePath, $"missing tensor '{tensorName}' (listed in {CheckpointStore.StateJsonFileName})");
                    parameterState.SetBuffer(key, buffer);
                    if (!buffer.shape.SequenceEqual(weight.shape) || buffer.dtype != weight.dtype)
                        throw new InvalidFileException(statePath,
                            $"tensor '{tensorName}' is {buffer.dtype}[{string.Join(", ", buffer.shape)}] but '{name}' is " +
                            $"{weight.dtype}[{string.Join(", ", weight.shape)}]");
                }
            }

            var optimizer = new OptimizerState(manifest.OptimizerKind, manifest.Hyperparameters, manifest.LearningRateScale, parameterStates);
            var state = new TrainingState(optimizer)
            {
                SchedulerStep = manifest.SchedulerStep,
                MicroStep = manifest.MicroStep,
                OptimizerStep = manifest.OptimizerStep,
                Epoch = manifest.Epoch,
                DataCursor = manifest.DataCursor,
                DataOrder = manifest.DataOrder,
            };
            foreach (var (key, value) in manifest.Extra) state.Extra[key] = value;
            foreach (var name in manifest.RandomStates)
            {
                var key = CheckpointStore.RandomStateKey(name);
                if (!stored.Remove(key, out var bytes) || bytes.dtype != ScalarType.Byte || bytes.dim() != 1)
                {
                    bytes?.Dispose();
                    throw new InvalidFileException(statePath, $"missing or malformed U8 tensor '{key}' (listed in {CheckpointStore.StateJsonFileName})");
                }
                state.RandomStates[name] = bytes.bytes.ToArray();
                bytes.Dispose();
            }
            if (stored.Count > 0)
                throw new InvalidFileException(statePath, $"unexpected tensor '{stored.Keys.First()}' (not listed in {CheckpointStore.StateJsonFileName})");
            return new Checkpoint(folder, adapter, state);
        }
        catch
        {
            foreach (var s in parameterStates.Values) s.Dispose();
            if (adapter is not null) foreach (var t in adapter.Values) t.Dispose();
            if (stored is not null) foreach (var t in stored.Values) t.Dispose();
            throw;
        }
    }
}
