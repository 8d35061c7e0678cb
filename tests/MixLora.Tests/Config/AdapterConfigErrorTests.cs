using MixLora.Config;
using MixLora.Tests.Support;

namespace MixLora.Tests.Config;

/// <summary>Every bad config is an <see cref="InvalidFileException"/> naming the file and the key.</summary>
public class AdapterConfigErrorTests
{
    private const string Source = "bad/adapter_config.json";

    private static string MixLora(string overrides = "", string strategy = "mixlora") =>
        "{\"peft_type\": \"MIXLORA\", \"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, " +
        "\"target_modules\": [\"q_proj\", \"k_proj\", \"gate_proj\"], \"num_experts\": 4, " +
        $"\"routing_strategy\": \"{strategy}\"" + (overrides.Length > 0 ? ", " + overrides : "") + "}";

    private static InvalidFileException ParseFails(string json)
    {
        var error = Assert.Throws<InvalidFileException>(() => AdapterConfig.Parse(json, Source));
        Assert.Equal(Source, error.FilePath);
        Assert.StartsWith(Source + ": ", error.Message);
        return error;
    }

    [Fact]
    public void TheValidBaselineParses() => Assert.True(AdapterConfig.Parse(MixLora(), Source).IsMixLora);

    public static TheoryData<string, string[]> BadConfigs => new()
    {
        { MixLora(strategy: "mixtral-moe"), ["routing_strategy", "mixtral-moe", "mixlora, mixlora-dynamic, mixlora-switch"] },
        { MixLora(strategy: "mixtral"), ["routing_strategy", "mixtral", "legacy", "LegacyAdapterConverter"] },
        { MixLora(strategy: "loramoe"), ["routing_strategy", "loramoe", "not supported"] },
        { MixLora("\"top_k\": 5"), ["top_k", "num_experts = 4", "got 5"] },
        { MixLora("\"top_k\": 0"), ["top_k", "got 0"] },
        { MixLora("\"top_p\": 0", "mixlora-dynamic"), ["top_p", "(0, 1]", "got 0"] },
        { MixLora("\"top_p\": 1.5", "mixlora-dynamic"), ["top_p", "(0, 1]", "got 1.5"] },
        { MixLora("\"temperature\": -1", "mixlora-dynamic"), ["temperature", ">= 0"] },
        { MixLora("\"expert_capacity\": 0", "mixlora-switch"), ["expert_capacity", "> 0"] },
        { MixLora("\"sparse_step\": 0", "mixlora-switch"), ["sparse_step", "null or an integer > 0"] },
        { MixLora("\"router_z_loss_coef\": -0.5", "mixlora-switch"), ["router_z_loss_coef", ">= 0", "-0.5"] },
        { MixLora("\"router_aux_loss_coef\": -0.001"), ["router_aux_loss_coef", ">= 0", "-0.001"] },
        { MixLora("\"jitter_noise\": -0.1"), ["jitter_noise", ">= 0"] },
        { MixLora("\"router_init_range\": -1"), ["router_init_range", ">= 0"] },
        { MixLora("\"act_fn\": \"tanhshrink\""), ["act_fn", "tanhshrink", "silu"] },
        { MixLora("\"lora_init\": \"kaiming\""), ["lora_init", "kaiming", "original, gaussian"] },
        { MixLora("\"bias\": \"all\""), ["bias", "\"all\"", "none"] },
        { MixLora("\"expert_lora\": {\"r\": 0}"), ["expert_lora.r", "> 0"] },
        { MixLora("\"expert_lora\": {\"r\": 2.5}"), ["expert_lora.r", "integer", "2.5"] },
        { MixLora("\"expert_lora\": {\"rank\": 2}"), ["expert_lora: unknown key \"rank\" (expert_lora may set: r, "] },
        { MixLora("\"top-k\": 2"), ["unknown key \"top-k\"; did you mean \"top_k\"?"] },
        { MixLora("\"rank_pattern\": {\"q_proj\": 8}"), ["rank_pattern", "not support"] },
        { MixLora("\"r\": 8"), ["\"r\"", "more than once"] },
        { MixLora().Replace("\"num_experts\": 4", "\"num_experts\": 0"), ["num_experts", "> 0", "got 0"] },
        { MixLora().Replace("\"num_experts\": 4, ", ""), ["missing key \"num_experts\""] },
        { MixLora().Replace("\"r\": 4", "\"r\": 4.5"), ["\"r\"", "integer", "4.5"] },
        { MixLora().Replace("\"r\": 4", "\"r\": 0"), ["\"r\"", "> 0"] },
        { MixLora().Replace("\"r\": 4", "\"r\": \"four\""), ["\"r\"", "integer", "\"four\""] },
        { MixLora().Replace("\"r\": 4, ", ""), ["missing key \"r\""] },
        { MixLora().Replace("\"lora_alpha\": 8", "\"lora_alpha\": 8.5"), ["\"lora_alpha\"", "integer", "8.5"] },
        { MixLora().Replace("\"lora_alpha\": 8", "\"lora_alpha\": 16.0"), ["\"lora_alpha\"", "integer", "16.0"] },
        { MixLora().Replace("\"lora_dropout\": 0.05", "\"lora_dropout\": -0.1"), ["lora_dropout", "[0, 1)", "-0.1"] },
        { MixLora().Replace("\"lora_dropout\": 0.05, ", ""), ["missing key \"lora_dropout\""] },
        { MixLora().Replace("\"peft_type\": \"MIXLORA\"", "\"peft_type\": \"IA3\""), ["peft_type", "IA3", "LORA, MIXLORA"] },
        { MixLora().Replace("\"peft_type\": \"MIXLORA\"", "\"peft_type\": \"LORA\""), ["routing_strategy", "contradicts", "LORA"] },
        { MixLora().Replace("\"peft_type\": \"MIXLORA\"", "\"peft_type\": true"), ["\"peft_type\"", "a string", "true"] },
        { MixLora().Replace("[\"q_proj\", \"k_proj\", \"gate_proj\"]", "[]"), ["target_modules", "no projection"] },
        { MixLora().Replace("[\"q_proj\", \"k_proj\", \"gate_proj\"]", "{\"q_proj\": false}"), ["target_modules", "no projection"] },
        { MixLora().Replace("[\"q_proj\", \"k_proj\", \"gate_proj\"]", "{\"q_proj\": 1}"), ["target_modules.q_proj", "true or false"] },
        { MixLora().Replace("[\"q_proj\", \"k_proj\", \"gate_proj\"]", "\"q_proj\""), ["target_modules", "list"] },
        { MixLora().Replace("[\"q_proj\", \"k_proj\", \"gate_proj\"]", "[\"q_proj\", 3]"), ["target_modules", "element 3"] },
        { MixLora().Replace("[\"q_proj\", \"k_proj\", \"gate_proj\"]", "[\"q_proj\", \"w1_proj\"]"), ["target_modules", "w1_proj", "legacy", "gate_proj"] },
        { MixLora().Replace("[\"q_proj\", \"k_proj\", \"gate_proj\"]", "[\"q_proj\", \"attn.c_attn\"]"), ["target_modules", "attn.c_attn", "unknown"] },
        { MixLora().Replace("\"target_modules\": [\"q_proj\", \"k_proj\", \"gate_proj\"], ", ""), ["missing key \"target_modules\""] },
        { "{\"r\": 4, \"lora_alpha\": 8,", ["not valid JSON"] },
        { "[1, 2]", ["JSON object"] },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void BadConfigIsRejectedNamingTheKey(string json, string[] expectedFragments)
    {
        var error = ParseFails(json);
        foreach (var fragment in expectedFragments) Assert.Contains(fragment, error.Message);
    }

    [Fact]
    public void TargetModuleTheBaseModelLacksIsRejectedWhenTheModelIsKnown()
    {
        var baseModel = ModelConfig.Load(RepoPaths.Asset("stories260K-hf", "config.json"));
        var config = AdapterConfig.Parse(MixLora().Replace("\"gate_proj\"", "\"fc1\""), Source);
        var error = Assert.Throws<InvalidFileException>(() => config.Validate(Source, baseModel));
        Assert.Contains("fc1", error.Message);
        Assert.Contains("llama", error.Message);
        Assert.Contains("target_modules", error.Message);
        config.Validate(Source); // without a base model, fc1 is a name the reference knows (Phi)
    }

    [Fact]
    public void LoadNamesTheFileForMissingAndMalformedFiles()
    {
        using var dir = new TempDir();
        var missing = dir.File("adapter_config.json");
        var notFound = Assert.Throws<InvalidFileException>(() => AdapterConfig.Load(missing));
        Assert.Contains(missing, notFound.Message);
        Assert.Contains("not found", notFound.Message);

        File.WriteAllText(missing, "{\"r\": 4 \"lora_alpha\": 8}");
        var malformed = Assert.Throws<InvalidFileException>(() => AdapterConfig.Load(missing));
        Assert.Equal(missing, malformed.FilePath);
        Assert.Contains("not valid JSON", malformed.Message);

        File.WriteAllText(missing, MixLora().Replace("\"r\": 4", "\"r\": \"four\""));
        var wrongType = Assert.Throws<InvalidFileException>(() => AdapterConfig.Load(missing));
        Assert.Contains("key \"r\" must be an integer, got \"four\"", wrongType.Message);
    }

    [Fact]
    public void CallerHandledKeysAreNotUnknown()
    {
        var json = MixLora("\"name\": \"mixlora_0\", \"lr\": 0.0002, \"batch_size\": 16");
        Assert.Contains("unknown key \"name\"", ParseFails(json).Message);
        var config = AdapterConfig.Parse(json, Source, otherKeys: ["name", "lr", "batch_size"]);
        Assert.Equal(4, config.NumExperts);
    }
}
