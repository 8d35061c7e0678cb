using System.Text.Json;
using MixLora.IO;

namespace MixLora.Evaluation;

/// <summary>
/// Writes an evaluation report as the reference's result list (spec §8.4: adapter_name, task_name, date_time,
/// metrics, router_profile, training_steps) with our extra fields (data_path, protocol, counts, speed, per-layer load).
/// </summary>
public static class EvaluationResultsFile
{
    /// <summary>Writes (atomically) <paramref name="report"/> to <paramref name="path"/> as indented JSON.</summary>
    public static void Write(string path, EvaluationReport report)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        AtomicFile.Write(path, temp =>
        {
            using var stream = File.Create(temp);
            WriteTo(stream, report);
        });
    }

    /// <summary>The same JSON as <see cref="Write(string, EvaluationReport)"/>, as a string (e.g. for standard output).</summary>
    public static string ToJson(EvaluationReport report)
    {
        using var stream = new MemoryStream();
        WriteTo(stream, report);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteTo(Stream stream, EvaluationReport report)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartArray();
        foreach (var result in report.Results) WriteResult(json, result);
        json.WriteEndArray();
    }

    /// <summary>Reads back one entry written by <see cref="Write"/>.</summary>
    /// <exception cref="KeyNotFoundException">A required field is missing.</exception>
    public static TaskResult ReadResult(JsonElement e)
    {
        var metrics = e.GetProperty("metrics");
        double[][]? load = e.TryGetProperty("router_load_by_layer", out var layers)
            ? layers.EnumerateArray().Select(l => l.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray()
            : null;
        return new TaskResult(
            e.GetProperty("adapter_name").GetString()!, e.GetProperty("task_name").GetString()!, e.GetProperty("data_path").GetString()!,
            e.GetProperty("protocol").GetString()!, e.GetProperty("date_time").GetString()!,
            metrics.GetProperty("correct").GetInt32(), metrics.GetProperty("total").GetInt32(),
            metrics.GetProperty("unanswered").GetInt32(), metrics.GetProperty("skipped").GetInt32(),
            e.GetProperty("examples_per_second").GetDouble(), load,
            e.TryGetProperty("training_steps", out var steps) ? steps.GetInt64() : null);
    }

    private static void WriteResult(Utf8JsonWriter json, TaskResult r)
    {
        json.WriteStartObject();
        json.WriteString("adapter_name", r.AdapterName);
        json.WriteString("task_name", r.TaskName);
        json.WriteString("data_path", r.DataPath);
        json.WriteString("protocol", r.Protocol);
        json.WriteString("date_time", r.DateTime);
        json.WriteStartObject("metrics");
        json.WriteNumber("accuracy", r.Accuracy);
        json.WriteNumber("correct", r.Correct);
        json.WriteNumber("total", r.Total);
        json.WriteNumber("unanswered", r.Unanswered);
        json.WriteNumber("skipped", r.Skipped);
        json.WriteEndObject();
        json.WriteNumber("examples_per_second", Math.Round(r.ExamplesPerSecond, 3));
        if (r.RouterProfile is { } profile)
        {
            json.WriteStartArray("router_profile");
            foreach (var v in profile) json.WriteNumberValue(v);
            json.WriteEndArray();
            json.WriteStartArray("router_load_by_layer");
            foreach (var layer in r.RouterLoad!)
            {
                json.WriteStartArray();
                foreach (var v in layer) json.WriteNumberValue(v);
                json.WriteEndArray();
            }
            json.WriteEndArray();
        }
        if (r.TrainingSteps is long steps) json.WriteNumber("training_steps", steps);
        json.WriteEndObject();
    }
}
