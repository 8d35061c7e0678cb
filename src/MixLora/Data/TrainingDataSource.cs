namespace MixLora.Data;

/// <summary>One data file of an adapter: <see cref="Task"/> is null for casual instruction data.</summary>
public sealed record TrainingDataSource(CommonsenseTask? Task, string Path);
