using System.CommandLine;
using Microsoft.Extensions.AI;
using MixLora.IO;
using MixLora.Serving;

namespace MixLora.Cli.Commands;

/// <summary>
/// `mixlora chat`: an interactive conversation in the console (the reference's --inference loop, with history): answers
/// stream; /adapter NAME switches the model, /reset forgets the conversation, /quit (or end of input) leaves.
/// </summary>
public static class ChatCommand
{
    private const string Help = "commands: /adapter NAME (switch; /adapter alone lists them), /reset, /quit";

    /// <param name="input">Where the user's lines come from (the console by default; tests give a reader).</param>
    public static Command Create(CliConsole console, TextReader? input = null)
    {
        var common = new CommonOptions();
        var served = new ServedModelsCli();
        var start = new Option<string>("--model-name") { Description = "The model that answers first: \"base\" or an adapter name.", DefaultValueFactory = _ => GenerationScheduler.BaseModelName };
        var system = new Option<string?>("--system") { Description = "A system message that starts every conversation." };
        var temperature = new Option<double>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy.", DefaultValueFactory = _ => 0.7 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling probability mass in (0, 1].", DefaultValueFactory = _ => 0.9 };
        var topK = new Option<int>("--top-k") { Description = "Sample among the K most likely tokens; 0 = off.", DefaultValueFactory = _ => 50 };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Most tokens per answer.", DefaultValueFactory = _ => 256 };
        var seed = new Option<long?>("--seed") { Description = "Random seed for reproducible sampling." };
        var command = new Command("chat", "Chat with the base model or an adapter in the console; answers stream, the history is kept in the chat template.")
        {
            start, system, temperature, topP, topK, maxTokens, seed,
        };
        common.AddTo(command);
        served.AddTo(command);
        command.SetAction(parse =>
        {
            served.Specs(parse);                                      // name clashes fail before the model loads
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
            using var models = served.Load(parse, model, maxBatch: 1);
            using var client = new MixLoraChatClient(models.Scheduler, models.Encoder);
            var options = new ChatOptions
            {
                Temperature = (float)parse.GetValue(temperature),
                TopP = (float)parse.GetValue(topP),
                TopK = parse.GetValue(topK),
                MaxOutputTokens = parse.GetValue(maxTokens),
                Seed = parse.GetValue(seed),
            };
            var session = new ChatSession(client, models.Scheduler.ModelNames, parse.GetValue(start)!, options, parse.GetValue(system));
            console.Info($"chatting with {session.Model} ({(models.Formatter.UsesChatTemplate ? "chat template" : "instruction prompt template")}); {Help}");
            return Loop(console, input ?? Console.In, session);
        });
        return command;
    }

    private static int Loop(CliConsole console, TextReader input, ChatSession session)
    {
        while (true)
        {
            console.Err.Write($"{session.Model}> ");
            var line = input.ReadLine();
            if (line is null || line.Trim() is "/quit" or "/exit") return 0;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith('/'))
            {
                Command(console, session, line);
                continue;
            }
            foreach (var piece in session.SendAsync(line).ToBlockingEnumerable())
            {
                console.Out.Write(piece);
                console.Out.Flush();
            }
            console.Out.WriteLine();
        }
    }

    private static void Command(CliConsole console, ChatSession session, string line)
    {
        var parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        switch (parts[0])
        {
            case "/reset":
                session.Reset();
                console.Info("(conversation cleared)");
                break;
            case "/adapter" when parts.Length == 1:
                console.Info($"models: {string.Join(", ", session.Models)}; answering: {session.Model}");
                break;
            case "/adapter":
                try
                {
                    session.SwitchTo(parts[1]);
                    console.Info($"(now {session.Model}; the conversation goes on)");
                }
                catch (MixLoraException e)
                {
                    console.Error(e.Message);
                }
                break;
            default:
                console.Error($"unknown command {parts[0]}; {Help}");
                break;
        }
    }
}
