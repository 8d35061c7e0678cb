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
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartArray();
            foreach (var result in report.Results) WriteResult(json, result);
            json.WriteEndArray();
        });
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
