using System.CommandLine;
using MixLora.Adapters;
using MixLora.Data;
using MixLora.IO;
using MixLora.Serving;

namespace MixLora.Cli.Commands;

/// <summary>
/// The options `serve` and `chat` share: named adapters served beside the base model, and how a conversation becomes a
/// prompt. <see cref="Load"/> attaches the adapters and starts the scheduler that batches all of them.
/// </summary>
internal sealed class ServedModelsCli
{
    private readonly AdapterOptionsCli _adapterOptions = new();

    public Option<string[]> Adapters { get; } = new("--adapter", "-a")
    {
        Description = "Adapter to load beside the base model, as NAME=DIR or DIR (name = folder name); repeat for several. It is chosen by NAME; the base model is \"base\" or its folder name.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string> Template { get; } = new("--template")
    {
        Description = "Prompt template for models without a chat template in tokenizer_config.json: alpaca (default), moe_peft or a template JSON file " +
                      "(the last user message is the instruction; system text and earlier turns are the input).",
        DefaultValueFactory = _ => PromptTemplate.AlpacaName,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Adapters);
        command.Options.Add(Template);
        command.Options.Add(_adapterOptions.ExpertPath);
        command.Options.Add(_adapterOptions.DropoutAtInference);
    }

    /// <summary>Names and folders of the adapters given, checked before anything is loaded.</summary>
    public IReadOnlyList<(string Name, string Dir)> Specs(ParseResult parse)
    {
        var specs = (parse.GetValue(Adapters) ?? []).Select(EvaluateCommand.ParseAdapter).ToList();
        if (specs.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new MixLoraException($"two adapters are named \"{twice.Key}\"; give them distinct names with --adapter NAME=DIR");
        if (specs.FirstOrDefault(s => s.Name == GenerationScheduler.BaseModelName) is { Name.Length: > 0 } reserved)
            throw new MixLoraException($"the name \"{reserved.Name}\" is the base model's; give the adapter at {reserved.Dir} another name with --adapter NAME=DIR");
        return specs;
    }

    /// <summary>Attaches the adapters, starts the scheduler and builds the chat prompt encoder.</summary>
    public ServedModels Load(ParseResult parse, PretrainedModel model, int maxBatch)
    {
        var specs = Specs(parse);
        var formatter = ChatFormatter.ForModel(model.Directory, PromptTemplate.Resolve(parse.GetValue(Template)));
        var loaded = new Dictionary<string, Adapter>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, dir) in specs) loaded[name] = Adapter.Load(model.Model, dir, _adapterOptions.Options(parse, model));
            _adapterOptions.RequireMixLoraForExpertPath(parse, [.. loaded.Values]);
            // The base model also answers to its folder name, unless an adapter already has that name.
            var folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Directory));
            string[] baseNames = folder.Length > 0 && folder != GenerationScheduler.BaseModelName && !loaded.ContainsKey(folder) ? [folder] : [];
            var scheduler = new GenerationScheduler(model, loaded, new SchedulerOptions { MaxBatch = maxBatch, BaseNames = baseNames });
            return new ServedModels(scheduler, loaded, formatter, ChatPrompts.Encoder(formatter, model.Tokenizer));
        }
        catch
        {
            foreach (var adapter in loaded.Values) adapter.Dispose();
            throw;
        }
    }
}

/// <summary>The scheduler, the adapters it serves and the chat prompt encoder; disposing stops the scheduler first.</summary>
internal sealed class ServedModels(GenerationScheduler scheduler, IReadOnlyDictionary<string, Adapter> adapters, ChatFormatter formatter, ChatPromptEncoder encoder) : IDisposable
{
    public GenerationScheduler Scheduler { get; } = scheduler;
    public ChatFormatter Formatter { get; } = formatter;
    public ChatPromptEncoder Encoder { get; } = encoder;

    public void Dispose()
    {
        Scheduler.Dispose();
        foreach (var adapter in adapters.Values) adapter.Dispose();
    }
}
