using System.Text.Json.Nodes;
using MixLora.Config;
using MixLora.Tests.Support;
using MixLora.Training;

namespace MixLora.Tests.Training;

/// <summary>How a run ends early: cancelled (Ctrl-C) with a resumable checkpoint, or one adapter stopped by a non-finite loss.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class TrainerInterruptionTests
{
    private const string MixLora = "\"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2";

    /// <summary>Records messages and steps; optionally runs an action after each step (cancelling, reading files).</summary>
    private sealed class Recorder(Action<StepReport>? onStep = null) : ITrainingObserver
    {
        public List<string> Messages { get; } = [];
        public List<StepReport> Steps { get; } = [];

        public void OnStart(IReadOnlyList<AdapterPlan> plans) { }

        public void OnStep(StepReport report)
        {
            Steps.Add(report);
            onStep?.Invoke(report);
        }

        public void OnMessage(string message) => Messages.Add(message);
    }

    private static TrainingResult Train(string json, string output, bool resume = false, CancellationToken cancel = default, ITrainingObserver? observer = null)
    {
        using var model = Stories260K.Load();
        return Trainer.Run(model, TrainingConfig.Parse(json, "(test)"), new TrainingRunOptions
        {
            OutputDir = output, BaseDir = TrainerTests.DataDir(8), Resume = resume, Seed = 7, Cancellation = cancel,
        }, observer);
    }

    private static long CheckpointStep(string output) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(RunCheckpoint.PathIn(output), "run.json")))!["step"]!.GetValue<long>();

    [Fact]
    public void CancellationSavesACheckpointAndResumeEndsBitIdentical()
    {
        using var straight = new TempDir();
        using var resumed = new TempDir();
        // save_step 1000: the only checkpoint before the end is the one the cancellation writes.
        string json = TrainerTests.Config(MixLora, batch: 2, micro: 1, epochs: 2, saveStep: 1000, extraAdapters: ", " + TrainerTests.SecondAdapter());
        var full = Train(json, straight.Path);
        Assert.False(full.Interrupted);

        using var cancel = new CancellationTokenSource();
        var recorder = new Recorder(r => { if (r.Adapter == "a" && r.MicroStep == 3) cancel.Cancel(); });
        var interrupted = Train(json, resumed.Path, cancel: cancel.Token, observer: recorder);

        Assert.True(interrupted.Interrupted);
        Assert.All(interrupted.Adapters, a => Assert.False(a.Completed, a.Name));
        Assert.All(interrupted.Adapters, a => Assert.Null(a.StoppedReason));
        Assert.Equal(3, interrupted.Adapters.Single(a => a.Name == "a").MicroSteps);
        // The step that was running when the token was cancelled finished, then the checkpoint was written.
        Assert.Equal(3, CheckpointStep(resumed.Path));
        Assert.Contains("interrupted: checkpoint saved after step 3; continue with --resume", recorder.Messages);
        Assert.False(File.Exists(Path.Combine(resumed.Path, "a", "adapter_model.bin")));

        var finished = Train(json, resumed.Path, resume: true);
        Assert.False(finished.Interrupted);
        Assert.All(finished.Adapters, a => Assert.True(a.Completed, a.Name));
        foreach (var name in new[] { "a", "b" })
        {
            foreach (var file in new[] { "adapter_model.bin", "adapter_config.json" })
                Assert.Equal(File.ReadAllBytes(Path.Combine(straight.Path, name, file)), File.ReadAllBytes(Path.Combine(resumed.Path, name, file)));
            Assert.Equal(new MetricsLog(Path.Combine(straight.Path, name)).Read().Select(m => m.Loss),
                new MetricsLog(Path.Combine(resumed.Path, name)).Read().Select(m => m.Loss));
        }
    }

    [Fact]
    public void CancelledBeforeTheFirstStepSavesAnEmptyCheckpoint()
    {
        using var dir = new TempDir();
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var result = Train(TrainerTests.Config(MixLora), dir.Path, cancel: cancel.Token);
        Assert.True(result.Interrupted);
        Assert.Equal(0, CheckpointStep(dir.Path));
        Assert.All(result.Adapters, a => Assert.Equal(0, a.MicroSteps));
    }

    [Fact]
    public void NonFiniteLossStopsOnlyThatAdapterAndKeepsItsLastCheckpoint()
    {
        using var dir = new TempDir();
        // "bad": plain SGD with an absurd learning rate, so its weights blow up after a few updates; save_step 1 writes
        // a checkpoint after every step. "a" trains normally in the same fused batches.
        string bad = """
            , { "name": "bad", "task_name": "casual", "data": "moe-peft_dummy_data.json", "optim": "sgd", "lr": 1e30,
                "batch_size": 1, "micro_batch_size": 1, "num_epochs": 2, "scheduler_type": "constant",
                "peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj", "down_proj"] }
            """;
        string json = TrainerTests.Config(MixLora, batch: 1, micro: 1, epochs: 2, saveStep: 1, extraAdapters: bad);
        string badCheckpoint = Path.Combine(RunCheckpoint.PathIn(dir.Path), "bad", "adapter_model.safetensors");
        // Before each step's checkpoint is written, the one on disk is the previous step's: remember it by step.
        var before = new Dictionary<long, byte[]>();
        var recorder = new Recorder(r => { if (r.Adapter == "a" && File.Exists(badCheckpoint)) before[r.MicroStep] = File.ReadAllBytes(badCheckpoint); });

        var result = Train(json, dir.Path, observer: recorder);

        var stopped = result.Adapters.Single(a => a.Name == "bad");
        var good = result.Adapters.Single(a => a.Name == "a");
        Assert.False(stopped.Completed);
        var match = System.Text.RegularExpressions.Regex.Match(stopped.StoppedReason ?? "", @"^loss became (NaN|infinite) at micro-step (\d+); stopped, the last checkpoint is kept$");
        Assert.True(match.Success, stopped.StoppedReason);
        int nanStep = int.Parse(match.Groups[2].Value);
        Assert.InRange(nanStep, 2, 15);                                            // a finite first step, then the blow-up
        Assert.Equal(nanStep - 1, stopped.MicroSteps);
        Assert.Contains(recorder.Messages, m => m == $"adapter \"bad\": {stopped.StoppedReason}");
        Assert.DoesNotContain(recorder.Steps, s => s.Adapter == "bad" && s.MicroStep >= nanStep);
        // Its checkpoint still holds the weights from before the non-finite step, and no final adapter was written.
        Assert.Equal(before[nanStep], File.ReadAllBytes(badCheckpoint));
        Assert.False(File.Exists(Path.Combine(dir.Path, "bad", "adapter_model.bin")));
        // The other adapter trained to the end.
        Assert.True(good.Completed);
        Assert.Equal(16, good.MicroSteps);
        Assert.True(double.IsFinite(good.FinalLoss!.Value));
        Assert.True(File.Exists(Path.Combine(dir.Path, "a", "adapter_model.bin")));
        Assert.Equal(16, new MetricsLog(Path.Combine(dir.Path, "a")).Read().Count);
    }
}
