namespace MixLora.Training;

/// <summary>
/// Learning-rate schedules of Hugging Face <c>get_scheduler</c>, as pure functions of the number of scheduler steps
/// already taken: <see cref="Multiplier"/>(k) is the factor on each group's base learning rate for optimizer step
/// k + 1 (torch's LambdaLR applies λ(0) before the first step and λ(k) after k scheduler steps).
/// </summary>
public sealed class LrSchedule
{
    /// <summary>The lr_end of HF's polynomial schedule (its default).</summary>
    public const double PolynomialEndLearningRate = 1e-7;

    /// <summary>HF's inverse_sqrt timescale when there is no warmup.</summary>
    public const int DefaultInverseSqrtTimescale = 10_000;

    /// <summary>The accepted <c>scheduler_type</c> values.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } =
        ["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial", "inverse_sqrt"];

    private readonly Func<int, double> _multiplier;

    private LrSchedule(string type, int warmupSteps, int totalSteps, Func<int, double> multiplier)
    {
        Type = type;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        _multiplier = multiplier;
    }

    public string Type { get; }
    public int WarmupSteps { get; }
    public int TotalSteps { get; }

    /// <summary>The factor on the base learning rate after <paramref name="step"/> scheduler steps (step ≥ 0).</summary>
    public double Multiplier(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return _multiplier(step);
    }

    /// <summary>
    /// Creates a schedule. <paramref name="baseLearningRate"/> is needed only by "polynomial", which decays from it to
    /// 1e-7 (HF uses the optimizer's default lr and applies the same factor to every group).
    /// </summary>
    /// <exception cref="MixLoraException">Unknown type, negative step counts, or a polynomial schedule whose base
    /// learning rate is missing or not above 1e-7.</exception>
    public static LrSchedule Create(string type, int warmupSteps, int totalSteps, double? baseLearningRate = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (warmupSteps < 0) throw new MixLoraException($"scheduler: warmup steps must be ≥ 0, not {warmupSteps}");
        if (totalSteps < 0) throw new MixLoraException($"scheduler: total steps must be ≥ 0, not {totalSteps}");
        int w = warmupSteps, n = totalSteps;
        Func<int, double> multiplier = type switch
        {
            "constant" => _ => 1.0,
            "constant_with_warmup" => s => s < w ? Warmup(s, w) : 1.0,
            "linear" => s => s < w ? Warmup(s, w) : Math.Max(0.0, (double)(n - s) / Math.Max(1, n - w)),
            "cosine" => s => s < w ? Warmup(s, w) : Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 0.5 * 2.0 * Progress(s, w, n)))),
            "cosine_with_restarts" => s => s < w ? Warmup(s, w) : HardRestarts(Progress(s, w, n), cycles: 1.0),
            "polynomial" => Polynomial(w, n, baseLearningRate),
            "inverse_sqrt" => InverseSqrt(w),
            _ => throw new MixLoraException(
                $"unknown scheduler_type '{type}'; supported: {string.Join(", ", SupportedTypes)}"),
        };
        return new LrSchedule(type, warmupSteps, totalSteps, multiplier);
    }

    private static double Warmup(int step, int warmup) => (double)step / Math.Max(1, warmup);

    private static double Progress(int step, int warmup, int total) => (double)(step - warmup) / Math.Max(1, total - warmup);

    private static double HardRestarts(double progress, double cycles)
    {
        if (progress >= 1.0) return 0.0;
        // Python's % on non-negative floats equals C#'s %.
        return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * (cycles * progress % 1.0))));
    }

    private static Func<int, double> Polynomial(int warmup, int total, double? baseLearningRate)
    {
        if (baseLearningRate is not { } lrInit || !double.IsFinite(lrInit))
            throw new MixLoraException("scheduler 'polynomial' needs the base learning rate (it decays to 1e-7)");
        if (!(lrInit > PolynomialEndLearningRate))
            throw new MixLoraException($"scheduler 'polynomial': learning rate {lrInit} must be greater than lr_end {PolynomialEndLearningRate}");
        const double power = 1.0;
        return step =>
        {
            if (step < warmup) return Warmup(step, warmup);
            // HF divides by (total - warmup) here and fails when it is 0; we treat that case as already decayed.
            if (step > total || total == warmup) return PolynomialEndLearningRate / lrInit;
            double range = lrInit - PolynomialEndLearningRate;
            double remaining = 1.0 - (double)(step - warmup) / (total - warmup);
            double decayed = range * Math.Pow(remaining, power) + PolynomialEndLearningRate;
            return decayed / lrInit;
        };
    }

    private static Func<int, double> InverseSqrt(int warmup)
    {
        int timescale = warmup != 0 ? warmup : DefaultInverseSqrtTimescale; // HF: num_warmup_steps or 10_000
        int shift = timescale - warmup;
        return step => step < warmup
            ? Warmup(step, warmup)
            : 1.0 / Math.Sqrt((double)(step + shift) / timescale);
    }
}
