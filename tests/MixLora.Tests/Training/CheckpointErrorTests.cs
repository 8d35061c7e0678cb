using MixLora.Tensors;
using MixLora.Tests.Support;
using MixLora.Training;
using TorchSharp.Modules;
using static MixLora.Tests.Training.TrainingTensors;
using static TorchSharp.torch;
using AdamW = MixLora.Training.AdamW;

namespace MixLora.Tests.Training;

public class CheckpointErrorTests : IDisposable
{
    private readonly TempDir _temp = new();
    private readonly string _dir;
    private readonly Parameter _a = Param(1f, 2f, 3f, 4f);
    private readonly Parameter _b = Param(5f, 6f);

    public CheckpointErrorTests()
    {
        _dir = _temp.File("ckpt");
        using var adamw = new AdamW(ParameterGroups.Single([("a", _a), ("b", _b)], 1e-3));
        SetGrad(_a, 1, 1, 1, 1);
        SetGrad(_b, 1, 1);
        adamw.Step();
        using var state = new TrainingState(adamw.CaptureState()) { SchedulerStep = 1 };
        state.RandomStates["g"] = GeneratorState.Capture(new TorchSharp.torch.Generator(3));
        CheckpointStore.Save(_dir, [new("a", _a), new("b", _b)], state);
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _temp.Dispose();
    }

    private string FileIn(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Missing_folder_or_manifest_is_reported()
    {
        Assert.Contains("no checkpoint", Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(_temp.File("nope"))).Message);
        File.Delete(FileIn(CheckpointStore.StateJsonFileName));
        Assert.False(CheckpointStore.Exists(_dir));
        var error = Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(_dir));
        Assert.Equal(FileIn(CheckpointStore.StateJsonFileName), error.FilePath);
    }

    [Fact]
    public void Truncated_tensor_file_is_reported()
    {
        var path = FileIn(CheckpointStore.StateTensorsFileName);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);
        var error = Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(_dir));
        Assert.Equal(path, error.FilePath);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void A_flipped_byte_is_reported()
    {
        var path = FileIn(CheckpointStore.AdapterFileName);
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(_dir));
        Assert.Equal(path, error.FilePath);
        Assert.Contains("SHA-256", error.Message);
    }

    [Theory]
    [InlineData("\"scheduler_step\": 1", "\"scheduler_step\": -1", "scheduler_step")]
    [InlineData("\"scheduler_step\": 1", "\"scheduler_step\": \"1\"", "scheduler_step")]
    [InlineData("\"version\": 1", "\"version\": 2", "version")]
    [InlineData("\"epoch\": 0,", "", "missing \"epoch\"")]
    [InlineData("\"format\": \"mixlora-training-state\"", "\"format\": \"other\"", "format")]
    [InlineData("{", "{{", "not valid JSON")]
    public void Malformed_manifest_names_the_field(string find, string replace, string expected)
    {
        var path = FileIn(CheckpointStore.StateJsonFileName);
        var json = File.ReadAllText(path);
        Assert.Contains(find, json);
        File.WriteAllText(path, ReplaceFirst(json, find, replace));
        var error = Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(_dir));
        Assert.Equal(path, error.FilePath);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Manifest_that_is_not_an_object_is_reported()
    {
        File.WriteAllText(FileIn(CheckpointStore.StateJsonFileName), "[1, 2]");
        Assert.Contains("must be a JSON object", Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(_dir)).Message);
    }

    [Fact]
    public void Manifest_listing_a_buffer_the_tensor_file_lacks_is_reported()
    {
        var path = FileIn(CheckpointStore.StateJsonFileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"exp_avg_sq\"", "\"exp_avg_sq\", \"max_exp_avg_sq\""));
        var error = Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(_dir));
        Assert.Contains("'a.max_exp_avg_sq'", error.Message);
    }

    [Fact]
    public void Restoring_into_an_adapter_with_other_names_is_reported()
    {
        using var checkpoint = CheckpointStore.Load(_dir);
        using var c = Param(1f, 2f);
        var error = Assert.Throws<MixLoraException>(() =>
            checkpoint.CopyAdapterTensorsInto([new("a", _a), new KeyValuePair<string, Parameter>("c", c)]));
        Assert.Contains("'c'", error.Message);
        Assert.Contains("'b'", error.Message);

        using var wrongShape = Param(1f, 2f, 3f);
        error = Assert.Throws<MixLoraException>(() =>
            checkpoint.CopyAdapterTensorsInto([new("a", _a), new KeyValuePair<string, Parameter>("b", wrongShape)]));
        Assert.Contains("'b'", error.Message);

        using var other = new AdamW(ParameterGroups.Single([("a", _a), ("c", c)], 1e-3));
        error = Assert.Throws<MixLoraException>(() => checkpoint.RestoreOptimizer(other));
        Assert.Contains(_dir, error.Message);
        Assert.Contains("'b'", error.Message);
    }

    [Fact]
    public void Restoring_into_another_optimizer_or_settings_is_reported()
    {
        using var checkpoint = CheckpointStore.Load(_dir);
        using var sgd = new Sgd(ParameterGroups.Single([("a", _a), ("b", _b)], 1e-3), momentum: 0.9);
        Assert.Contains("'adamw'", Assert.Throws<MixLoraException>(() => checkpoint.RestoreOptimizer(sgd)).Message);

        using var otherLr = new AdamW(ParameterGroups.Single([("a", _a), ("b", _b)], 2e-3));
        Assert.Contains("lr[all]", Assert.Throws<MixLoraException>(() => checkpoint.RestoreOptimizer(otherLr)).Message);

        using var otherDecay = new AdamW(ParameterGroups.Single([("a", _a), ("b", _b)], 1e-3), weightDecay: 0);
        Assert.Contains("weight_decay", Assert.Throws<MixLoraException>(() => checkpoint.RestoreOptimizer(otherDecay)).Message);
        Assert.Equal(0, otherDecay.StateCount); // a failed restore changes nothing
    }

    private static string ReplaceFirst(string text, string find, string replace)
    {
        int at = text.IndexOf(find, StringComparison.Ordinal);
        return text[..at] + replace + text[(at + find.Length)..];
    }
}
