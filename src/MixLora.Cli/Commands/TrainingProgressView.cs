using MixLora.Training;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>
/// Shows training progress: a Spectre.Console progress bar per adapter on a terminal, plain log lines (every
/// <c>logEvery</c> steps) when the output is redirected.
/// </summary>
public sealed class TrainingProgressView : ITrainingObserver
{
    private readonly CliConsole _console;
    private readonly int _logEvery;
    private readonly Dictionary<string, ProgressTask> _bars = [];
    private ProgressContext? _context;

    public TrainingProgressView(CliConsole console, int logEvery) => (_console, _logEvery) = (console, Math.Max(1, logEvery));

    /// <summary>Runs <paramref name="work"/> with live progress bars when the console is interactive.</summary>
    public T Run<T>(bool interactive, Func<T> work)
    {
        if (!interactive) return work();
        T result = default!;
        _console.Ansi.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                _context = ctx;
                result = work();
            });
        return result;
    }

    public void OnStart(IReadOnlyList<AdapterPlan> plans)
    {
        foreach (var p in plans)
        {
            _console.Info($"adapter \"{p.Name}\": {p.Examples} examples, {p.MicroSteps} micro-steps, {p.OptimizerSteps} optimizer steps, {p.TrainableParameters:N0} trainable parameters");
            if (_context is not null) _bars[p.Name] = _context.AddTask(Markup.Escape(p.Name), maxValue: Math.Max(1, p.MicroSteps));
        }
    }

    public void OnStep(StepReport r)
    {
        string aux = r.AuxLoss is double a ? $" aux {a:F4}" : "";
        string line = $"{r.Adapter}: step {r.MicroStep}/{r.TotalMicroSteps} epoch {r.Epoch} loss {r.Loss:F4}{aux} lr {r.LearningRate:G3} {r.TokensPerSecond:F0} tok/s";
        if (_bars.TryGetValue(r.Adapter, out var bar))
        {
            bar.Value = r.MicroStep;
            bar.Description = Markup.Escape($"{r.Adapter} ep {r.Epoch} loss {r.Loss:F3}{aux} {r.TokensPerSecond:F0} tok/s");
        }
        else if (r.MicroStep % _logEvery == 0 || r.MicroStep == r.TotalMicroSteps)
        {
            _console.Info(line);
        }
    }

    public void OnMessage(string message) => _console.Info(message);
}
