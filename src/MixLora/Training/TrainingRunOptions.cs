using MixLora.Adapters;

namespace MixLora.Training;

/// <summary>Run-time choices of a training run (not part of the MoE-PEFT config file).</summary>
public sealed record TrainingRunOptions
{
    /// <summary>Folder for the run: one sub-folder per adapter (adapter files, metrics, plots) and the resume checkpoint.</summary>
    public required string OutputDir { get; init; }

    /// <summary>Folder that relative data paths in the config are resolved against.</summary>
    public string BaseDir { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>Continue from the checkpoint in <see cref="OutputDir"/> (exactly: same result as an uninterrupted run).</summary>
    public bool Resume { get; init; }

    /// <summary>
    /// Start afresh in an <see cref="OutputDir"/> that holds an earlier run, deleting that run first. Without it (and
    /// without <see cref="Resume"/>) a non-empty output folder is an error. A folder that holds something other than a
    /// run is never deleted.
    /// </summary>
    public bool Overwrite { get; init; }

    /// <summary>Plain-LoRA DoRA adapters are saved with HF PEFT's magnitude names too (see <see cref="Adapters.Adapter.Save"/>).</summary>
    public bool PeftNames { get; init; }

    /// <summary>Seeds the data order, initialisation, dropout and router jitter.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Run on one CPU thread so results are identical across machines (runs with a fixed thread count are already repeatable).</summary>
    public bool Deterministic { get; init; }

    public ExpertPath ExpertPath { get; init; } = ExpertPath.Auto;

    /// <summary>Recompute each decoder layer in the backward pass (<see cref="Models.CausalLM.ActivationCheckpointing"/>): less memory, same results.</summary>
    public bool ActivationCheckpointing { get; init; }

    /// <summary>Stops the run after the current step; a checkpoint is written first.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Test hook: stop (as if killed) right after this many fused steps, without a final checkpoint.</summary>
    public int? StopAfterSteps { get; init; }

    /// <summary>Evaluate adapters that name tasks every <c>evaluate_steps</c> micro-steps and at the end (spec §6.3).</summary>
    public bool Evaluate { get; init; } = true;

    /// <summary>Where to look for a task's test file when none sits next to its training data (e.g. the bundled test sets).</summary>
    public string? EvaluationDataDir { get; init; }
}
