using System.CommandLine;
using System.Diagnostics;
using MixLora.Generation;
using MixLora.IO;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora generate`: sample text from a model, streaming tokens as they come.</summary>
public static class GenerateCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var adapter = new AdapterOptionsCli();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text; an empty string starts from BOS alone.", DefaultValueFactory = _ => "Once upon a time" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Maximum number of tokens to generate.", DefaultValueFactory = _ => 256 };
        var temperature = new Option<double>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy.", DefaultValueFactory = _ => 1.0 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling probability mass in (0, 1]; 1 = off.", DefaultValueFactory = _ => 0.9 };
        var topK = new Option<int>("--top-k") { Description = "Sample among the K most likely tokens; 0 = off.", DefaultValueFactory = _ => 50 };
        var penalty = new Option<double>("--repetition-penalty") { Description = "Penalty for tokens already in the text; 1 = off (default, as HF transformers; the reference's GenerateConfig uses 1.1).", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long?>("--seed") { Description = "Random seed for reproducible sampling." };
        var noStream = new Option<bool>("--no-stream") { Description = "Print the text once at the end instead of token by token." };
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute the whole sequence every step (slow; for checking)." };

        var command = new Command("generate", "Generate text from a prompt with a base model (default: the bundled stories260K), optionally with an adapter.")
        {
            prompt, maxNew, temperature, topP, topK, penalty, seed, noStream, noCache,
        };
        common.AddTo(command);
        adapter.AddTo(command);
        command.SetAction(parse =>
        {
            var options = new SamplingOptions
            {
                MaxNewTokens = parse.GetValue(maxNew),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                TopK = parse.GetValue(topK),
                RepetitionPenalty = parse.GetValue(penalty),
                Seed = parse.GetValue(seed),
                UseCache = !parse.GetValue(noCache),
            };
            options.Validate();
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
            using var attached = adapter.Attach(parse, model);
            var text = parse.GetValue(prompt) ?? "";
            var ids = PromptEncoding.Encode(model.Tokenizer, text);
            bool stream = !parse.GetValue(noStream);
            var streamer = new TextStreamer(model.Tokenizer, ids);
            if (stream) console.Out.Write(text);
            var clock = Stopwatch.StartNew();
            int count = 0;
            foreach (var id in new TokenGenerator(model.Model).Generate(ids, options, model.StopIds))
            {
                count++;
                var delta = streamer.Push(id);
                if (stream && delta.Length > 0)
                {
                    console.Out.Write(delta);
                    console.Out.Flush();
                }
            }
            clock.Stop();
            if (stream) console.Out.WriteLine();
            else console.Out.WriteLine(text + streamer.Text);
            console.Info($"[{count} tokens in {clock.Elapsed.TotalSeconds:F2} s, {count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F1} tokens/s]");
            return 0;
        });
        return command;
    }
}
