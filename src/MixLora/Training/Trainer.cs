using System.Diagnostics;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Data;
using MixLora.IO;
using MixLora.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>
/// Trains the adapters of a MoE-PEFT training config on one frozen base model with m-LoRA fused batches: the adapters
/// chosen for a step share one forward and backward; each adapter's loss and aux loss are divided by its own
/// accumulation steps (spec §6.3). Checkpoints allow an exact resume.
/// </summary>
public sealed class Trainer
{
    private readonly PretrainedModel _model;
    private readonly TrainingConfig _config;
    private readonly TrainingRunOptions _options;
    private readonly ITrainingObserver? _observer;
    private readonly Dictionary<AdapterTask, TrainingEvaluation> _evaluations = [];

    public Trainer(PretrainedModel model, TrainingConfig config, TrainingRunOptions options, ITrainingObserver? observer = null)
    {
        _model = model;
        _config = config;
        _options = options;
        _observer = observer;
    }

    /// <summary>Trains every adapter of the config; the adapters are saved under OutputDir/&lt;name&gt;/.</summary>
    public static TrainingResult Run(PretrainedModel model, TrainingConfig config, TrainingRunOptions options, ITrainingObserver? observer = null) =>
        new Trainer(model, config, options, observer).Run();

    public TrainingResult Run()
    {
        _config.ValidateData(_options.BaseDir);
        manual_seed(_options.Seed);
        // libtorch CPU kernels are deterministic for a fixed thread count; one thread makes runs agree across machines.
        if (_options.Deterministic) set_num_threads(1);
        var tasks = CreateTasks();
        string? createdFolder = null;
        bool checkpointingBefore = _model.Model.ActivationCheckpointing;
        _model.Model.ActivationCheckpointing = _options.ActivationCheckpointing;
        try
        {
            createdFolder = RunFolder.Prepare(_options.OutputDir, _options.Resume, _options.Overwrite);
            long step = 0;
            if (_options.Resume) step = ResumeFrom(tasks);
            else StartFresh(tasks);
            PrepareEvaluations(tasks);
            _observer?.OnStart(tasks.Select(t => new AdapterPlan(t.Name, t.Examples.Count, t.TotalMicroSteps, t.OptimizerSteps, t.Adapter.TrainableParameterCount)).ToList());
            bool interrupted = Loop(tasks, ref step);
            if (!interrupted) Finish(tasks, step);
            return new TrainingResult(tasks.Select(t => new AdapterResult(t.Name, t.Directory, t.MicroStep, t.LastLoss,
                t.Done && t.StoppedReason is null, t.StoppedReason)).ToList(), interrupted);
        }
        catch
        {
            RunFolder.RemoveIfEmpty(createdFolder); // a run that failed before writing anything leaves no folder
            throw;
        }
        finally
        {
            _model.Model.ActivationCheckpointing = checkpointingBefore;
            foreach (var t in tasks) t.Dispose();
        }
    }

    private List<AdapterTask> CreateTasks()
    {
        var tasks = new List<AdapterTask>();
        int cutoff = _config.ResolveCutoffLen(_model.Config);
        if (_config.CutoffLenWarning(_model.Config) is { } warning) _observer?.OnMessage("warning: " + warning);
        string modelName = Path.GetFileName(Path.TrimEndingDirectorySeparator(_model.Directory));
        try
        {
            for (int i = 0; i < _config.Lora.Count; i++)
            {
                var cfg = _config.Lora[i];
                var texts = TrainingData.Load(cfg, _options.BaseDir);
                var examples = TrainingExample.EncodeAll(_model.Tokenizer, texts, cutoff, cfg.AddEos, cfg.TrainOnInputs);
                if (examples.Count == 0) throw new MixLoraException($"adapter \"{cfg.Name}\": the training data is empty");
                if (examples.All(e => e.TargetCount == 0))
                    throw new MixLoraException($"adapter \"{cfg.Name}\": no example has a token to learn (check cutoff_len and train_on_inputs)");
                // Seeds derive from the adapter's name, not its position, so an adapter trains the same alone or with others.
                long seed = AdapterSeed(_options.Seed, cfg.Name);
                var lengths = examples.Select(e => e.Length).ToList();
                int orderSeed = (int)(seed & int.MaxValue);
                Func<int, int[]> order = epoch => DataOrder.ForEpoch(lengths, cfg.GroupByLength, cfg.ShuffleEachEpoch, orderSeed, epoch);
                var adapterConfig = cfg.Adapter with { BaseModelNameOrPath = modelName, TaskType = cfg.Adapter.TaskType ?? "CAUSAL_LM" };
                var adapter = Adapter.Create(_model.Model, adapterConfig,
                    new AdapterOptions { Seed = seed, ExpertPath = _options.ExpertPath });
                adapter.SetTraining(true);
                tasks.Add(new AdapterTask(cfg, adapter, examples, order, Path.Combine(_options.OutputDir, cfg.Name)));
            }
        }
        catch
        {
            foreach (var t in tasks) t.Dispose();
            throw;
        }
        return tasks;
    }

    /// <summary>run seed ⊕ FNV-1a hash of the adapter name.</summary>
    public static long AdapterSeed(long runSeed, string adapterName)
    {
        ulong hash = 14695981039346656037;
        foreach (char c in adapterName) hash = (hash ^ c) * 1099511628211;
        return (long)((ulong)runSeed ^ (hash & 0x7FFF_FFFF_FFFF));
    }

    private void StartFresh(List<AdapterTask> tasks)
    {
        foreach (var t in tasks)
        {
            Directory.CreateDirectory(t.Directory);
            File.Delete(new MetricsLog(t.Directory).Path);
        }
    }

    private long ResumeFrom(List<AdapterTask> tasks)
    {
        var folder = RunCheckpoint.Find(_options.OutputDir);
        if (folder is null)
        {
            _observer?.OnMessage($"no checkpoint in {_options.OutputDir}; starting from the beginning");
            StartFresh(tasks);
            return 0;
        }
        long step = RunCheckpoint.Restore(folder, tasks);
        foreach (var t in tasks) new MetricsLog(t.Directory).TruncateAfter(t.MicroStep);
        _observer?.OnMessage($"resumed from {folder} after step {step}");
        return step;
    }

    /// <returns>true when the run was interrupted (cancellation or the test hook).</returns>
    private bool Loop(List<AdapterTask> tasks, ref long step)
    {
        var clock = Stopwatch.StartNew();
        int padId = _model.Tokenizer.PaddingId();
        var device = _model.Model.EmbedTokens.device;
        while (true)
        {
            var running = tasks.Where(t => !t.Done).ToList();
            if (running.Count == 0) return false;
            if (_options.Cancellation.IsCancellationRequested)
            {
                RunCheckpoint.Save(_options.OutputDir, tasks, step);
                _observer?.OnMessage($"interrupted: checkpoint saved after step {step}; continue with --resume");
                return true;
            }
            var chosen = Dispatcher.Choose(running, _config.EffectiveTrainLoraSimultaneouslyNum, _config.TrainStrategy);
            var stepClock = Stopwatch.StartNew();
            var reports = TrainStep(chosen, padId, device);
            step++;
            foreach (var (task, report) in reports)
            {
                var full = report with { ElapsedSeconds = clock.Elapsed.TotalSeconds, TokensPerSecond = report.Tokens / stepClock.Elapsed.TotalSeconds };
                new MetricsLog(task.Directory).Append(full);
                _observer?.OnStep(full);
            }
            bool save = chosen.Any(t => t.MicroStep % _config.SaveStep == 0 || t.StoppedReason is not null);
            if (save) RunCheckpoint.Save(_options.OutputDir, tasks, step);
            foreach (var t in chosen.Where(t => t.StoppedReason is null && t.Config.EvaluateSteps is int every && t.MicroStep % every == 0))
                Evaluate(t);
            if (_options.StopAfterSteps is int stop && step >= stop) return true;
        }
    }

    /// <summary>One fused forward/backward over the chosen adapters' next micro-batches.</summary>
    private List<(AdapterTask Task, StepReport Report)> TrainStep(IReadOnlyList<AdapterTask> chosen, int padId, Device device)
    {
        using var scope = NewDisposeScope();
        var parts = chosen.Select(t => (Task: t, Epoch: t.Epoch, Batch: t.TakeMicroBatch())).ToList();
        using var batch = FusedBatch.Build(parts.Select(p => p.Batch).ToList(), padId, device);
        // The loss comes from the hidden states a chunk of rows at a time: the [B, T, V] logits are never held.
        using var output = _model.Model.ForwardHidden(batch.Ids, batch.AttentionMask, rows: batch.Rows);
        Tensor? total = null;
        var losses = new List<(AdapterTask Task, int Epoch, double Loss, double? Aux, long Tokens, bool Finite)>();
        foreach (var (part, rows) in parts.Zip(batch.Rows))
        {
            var task = part.Task;
            var ids = batch.Ids.narrow(0, rows.Start, rows.Count);
            var mask = batch.AttentionMask.narrow(0, rows.Start, rows.Count);
            var lm = ChunkedCausalLmLoss.Compute(_model.Model, output.Hidden.narrow(0, rows.Start, rows.Count), ids,
                batch.LabelMask.narrow(0, rows.Start, rows.Count));
            var aux = task.Adapter.AuxiliaryLoss(output.RouterLogitsOf(task.Adapter), mask);
            double lmValue = lm.item<float>();
            double? auxValue = aux?.item<float>();
            bool finite = double.IsFinite(lmValue) && (auxValue is null || double.IsFinite(auxValue.Value));
            long tokens = mask.sum().item<long>();
            losses.Add((task, part.Epoch, lmValue, auxValue, tokens, finite));
            if (!finite) continue; // this adapter stops; its last checkpoint stays as it was
            var scaled = (aux is null ? lm : lm + aux) / task.Config.AccumulationSteps;
            total = total is null ? scaled : total + scaled;
        }
        total?.backward();
        var reports = new List<(AdapterTask, StepReport)>();
        foreach (var (task, epoch, loss, aux, tokens, finite) in losses)
        {
            if (!finite)
            {
                task.StoppedReason = $"loss became {(double.IsNaN(loss) ? "NaN" : "infinite")} at micro-step {task.MicroStep + 1}; stopped, the last checkpoint is kept";
                task.Optimizer.ZeroGrad();
                ReportStop(task);
                continue;
            }
            double lr = task.CurrentLearningRate;
            task.AfterBackward();
            if (task.StoppedReason is not null)
            {
                ReportStop(task);
                continue;
            }
            task.LastLoss = loss;
            reports.Add((task, new StepReport(task.Name, task.MicroStep, task.TotalMicroSteps, task.OptimizerStep, epoch,
                loss, aux, lr, tokens, 0, 0)));
        }
        return reports;
    }

    private void ReportStop(AdapterTask task) => _observer?.OnMessage($"adapter \"{task.Name}\": {task.StoppedReason}");

    private void Finish(List<AdapterTask> tasks, long step)
    {
        foreach (var task in tasks.Where(t => t.StoppedReason is null))
        {
            if (task.MicroStep % task.Config.AccumulationSteps != 0) task.OptimizerStepNow(); // flush a partial accumulation
            if (task.StoppedReason is not null)
            {
                ReportStop(task);
                continue;
            }
            task.Adapter.Save(task.Directory, AdapterWeightFormat.Bin, _options.PeftNames);
            var plots = RunPlots.Save(task.Directory, task.Name, task.Statistics);
            _observer?.OnMessage($"adapter \"{task.Name}\" saved to {task.Directory}" + (plots.Count > 0 ? $" (plots: {string.Join(", ", plots.Select(Path.GetFileName))})" : ""));
        }
        RunCheckpoint.Save(_options.OutputDir, tasks, step);
        foreach (var task in tasks.Where(t => t.StoppedReason is null)) Evaluate(task);
    }

    /// <summary>Loads the test data of every adapter that names tasks (unless evaluation is off).</summary>
    private void PrepareEvaluations(List<AdapterTask> tasks)
    {
        if (!_options.Evaluate) return;
        foreach (var task in tasks)
        {
            var evaluation = TrainingEvaluation.Create(task.Config, _options.BaseDir, _options.EvaluationDataDir, task.Directory, m => _observer?.OnMessage(m));
            if (evaluation is null) continue;
            evaluation.Restore(_options.Resume ? task.MicroStep : null);
            _evaluations[task] = evaluation;
        }
    }

    /// <summary>Scores an adapter on its tasks now (once per micro-step) and reports the accuracies.</summary>
    private void Evaluate(AdapterTask task)
    {
        if (!_evaluations.TryGetValue(task, out var evaluation) || evaluation.LastStep == task.MicroStep) return;
        foreach (var r in evaluation.Run(task, _model.Model, _model.Tokenizer, _config.ResolveCutoffLen(_model.Config)))
            _observer?.OnMessage($"adapter \"{task.Name}\" after micro-step {task.MicroStep}: {r.TaskName} accuracy {r.Accuracy:P1} ({r.Correct}/{r.Total}) -> {TrainingEvaluation.FileName}");
    }
}
