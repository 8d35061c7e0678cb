using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>Everything one train-step sweep produced, from which the JSON, markdown and chart are written.</summary>
public sealed record TrainStepRun
{
    public required TrainStepOptions Options { get; init; }
    public required string Date { get; init; }
    public required string Commit { get; init; }
    public required JsonArray? LoadStart { get; init; }
    public required JsonArray? LoadEnd { get; init; }
    public required double GemmStart { get; init; }
    public required double GemmEnd { get; init; }
    /// <summary>Worker measurements per variant, one per round, in the order the variants ran.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<TrainStepMeasurement>> Raw { get; init; }
    public required PeerResults? Peer { get; init; }
    /// <summary>Reasons the comparison with the peer is not like for like.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    public IReadOnlyDictionary<string, TrainStepDerived> Results => _results ??=
        Raw.ToDictionary(kv => kv.Key, kv => TrainStepDerived.From(Options.Shape, kv.Key, kv.Value, GemmStart));

    public IReadOnlyList<(string Key, double Value)> Headlines => TrainStepComparison.Headlines(Results);

    public Dictionary<string, Dictionary<string, double>>? VsPeer =>
        Peer is null ? null : TrainStepComparison.VsPeer(Results, Peer);

    public IReadOnlyList<TargetCheck> Targets => TrainStepComparison.Targets(Headlines, VsPeer);

    private IReadOnlyDictionary<string, TrainStepDerived>? _results;
}
