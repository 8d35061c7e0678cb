using MixLora.Config;
using MixLora.Data;
using MixLora.Tests.Support;

namespace MixLora.Tests.Config.TrainingConfigs;

/// <summary>Every bad config fails with an InvalidFileException naming the file, the adapter and the key.</summary>
public class TrainingConfigErrorTests
{
    private static InvalidFileException Fails(string json)
    {
        var e = Assert.Throws<InvalidFileException>(() => TrainingConfig.Parse(json, "config.json"));
        Assert.Equal("config.json", e.FilePath);
        Assert.StartsWith("config.json: ", e.Message);
        return e;
    }

    [Fact]
    public void MicroBatchSizeMustDivideBatchSize()
    {
        var json = TrainingConfigFixtures.Minimal("\"micro_batch_size\": 3,").Replace("\"name\": \"a\"", "\"name\": \"mixlora_0\"");
        Assert.Equal("config.json: lora[0] (\"mixlora_0\"): micro_batch_size 3 must divide batch_size 16", Fails(json).Message);
        Assert.Contains("micro_batch_size 32 must divide batch_size 16", Fails(TrainingConfigFixtures.Minimal("\"micro_batch_size\": 32,")).Message);
    }

    public static TheoryData<string, string> AdapterErrors => new()
    {
        { "\"optim\": \"adam\",", "lora[0] (\"a\"): unknown optim \"adam\" (valid: adamw, sgd)" },
        { "\"scheduler_type\": \"step\",", "lora[0] (\"a\"): unknown scheduler_type \"step\"" },
        { "\"scheduler_type\": \"reduce_lr_on_plateau\",", "scheduler_type \"reduce_lr_on_plateau\" is not supported" },
        { "\"loraplus_lr_ratio\": 0.5,", "key \"loraplus_lr_ratio\" must be >= 1.0" },
        { "\"warmup_ratio\": 1.5,", "key \"warmup_ratio\" must be in [0, 1], got 1.5" },
        { "\"warmup_steps\": -2,", "key \"warmup_steps\" must be >= 0" },
        { "\"momentum\": -0.1,", "key \"momentum\" must be >= 0" },
        { "\"micro_batch_size\": 0,", "key \"micro_batch_size\" must be an integer > 0, got 0" },
        { "\"evaluate_steps\": 0,", "key \"evaluate_steps\" must be an integer > 0" },
        { "\"learning_rate\": 0.1,", "lora[0] (\"a\"): unknown key \"learning_rate\"" },
        { "\"max_steps\": 0,", "lora[0] (\"a\"): key \"max_steps\" must be an integer > 0 (or absent), got 0" },
        { "\"max_steps\": 2.5,", "key \"max_steps\" must be an integer, got 2.5" },
        { "\"shuffle_each_epoch\": \"yes\",", "key \"shuffle_each_epoch\" must be true or false, got \"yes\"" },
        { "\"num_epoch\": 2,", "lora[0] (\"a\"): unknown key \"num_epoch\"; did you mean \"num_epochs\"?" },
        { "\"lora-alpha\": 16,", "unknown key \"lora-alpha\"; did you mean \"lora_alpha\"?" },
        { "\"Top_K\": 2,", "unknown key \"Top_K\"; did you mean \"top_k\"?" },
        { "\"batch_size\": 8,", "lora[0] (\"a\"): key \"batch_size\" appears more than once" },
        { "\"task_name\": \"csqa\", \"evaluate_batch_size\": 4,", "task \"csqa\" is a reference task this library does not support" },
        { "\"task_name\": \"arc-x\", \"evaluate_batch_size\": 4,", "lora[0] (\"a\"): task_name \"arc-x\": unknown task \"arc-x\"" },
        { "\"task_name\": \"arc-c\",", "lora[0] (\"a\"): missing key \"evaluate_batch_size\" (required for task \"arc-c\"" },
        { "\"task_name\": \"arc-c;casual\", \"evaluate_batch_size\": 4,", "\"casual\" cannot be combined with other tasks" },
        { "\"task_name\": \"arc-c;boolq\", \"evaluate_batch_size\": 4,", "key \"data\" has 1 path(s) for 2 task(s)" },
        { "\"prompt\": \"\",", "key \"prompt\" must be a template name" },
        { "\"routing_strategy\": \"mixlora\",", "lora[0] (\"a\"): missing key \"num_experts\"" },
        { "\"lora_init\": \"xavier\",", "lora[0] (\"a\"): unknown lora_init \"xavier\"" },
    };

    [Theory]
    [MemberData(nameof(AdapterErrors))]
    public void BadAdapterKeysAreReported(string adapterExtra, string expected)
    {
        Assert.Contains(expected, Fails(TrainingConfigFixtures.Minimal(adapterExtra)).Message);
    }

    [Theory]
    [InlineData("\"lr\": 0,", "lora[0] (\"a\"): key \"lr\" must be a number > 0, got 0")]
    [InlineData("\"lr\": -1e-4,", "key \"lr\" must be a number > 0, got -0.0001")]
    [InlineData("", "lora[0] (\"a\"): missing key \"lr\" (the learning rate, a number > 0)")]
    [InlineData("\"lr\": \"fast\",", "lora[0] (\"a\"): key \"lr\" must be a number, got \"fast\"")]
    [InlineData("\"lr\": null,", "lora[0] (\"a\"): key \"lr\" must be a number, got null")]
    public void LearningRateErrors(string lr, string expected) =>
        Assert.Contains(expected, Fails(TrainingConfigFixtures.Minimal(lr: lr)).Message);

    [Theory]
    [InlineData("\"foo\": 1,", "unknown key \"foo\" (known keys: cutoff_len, save_step,")]
    [InlineData("\"save_steps\": 1,", "unknown key \"save_steps\"; did you mean \"save_step\"? (known keys: cutoff_len,")]
    [InlineData("\"save_step\": 0,", "appears more than once")]
    [InlineData("\"train_lora_simultaneously_num\": 0,", "key \"train_lora_simultaneously_num\" must be an integer > 0, got 0")]
    public void BadTopLevelKeysAreReported(string topExtra, string expected) =>
        Assert.Contains(expected, Fails(TrainingConfigFixtures.Minimal(topExtra: topExtra)).Message);

    [Theory]
    [InlineData("\"cutoff_len\": 256,", "", "missing key \"cutoff_len\"")]
    [InlineData("\"cutoff_len\": 256,", "\"cutoff_len\": 0,", "key \"cutoff_len\" must be an integer > 0, or -1")]
    [InlineData("\"save_step\": 100,", "\"save_step\": 0,", "key \"save_step\" must be an integer > 0")]
    [InlineData("\"save_step\": 100,", "", "missing key \"save_step\"")]
    [InlineData("\"train_strategy\": \"optim\",", "\"train_strategy\": \"fast\",", "unknown train_strategy \"fast\" (valid: optim, none)")]
    [InlineData("\"train_strategy\": \"optim\",", "\"train_strategy\": 1,", "key \"train_strategy\" must be a string, got 1")]
    [InlineData("\"num_epochs\": 1,", "\"num_epochs\": 0,", "lora[0] (\"a\"): key \"num_epochs\" must be a number > 0, got 0")]
    [InlineData("\"num_epochs\": 1,", "", "lora[0] (\"a\"): missing key \"num_epochs\" (passes over the data, a number > 0; max_steps may cut the run short)")]
    [InlineData("\"cutoff_len\": 256,", "\"cutoff_len\": \"256\",", "key \"cutoff_len\" must be an integer, got \"256\"")]
    public void RunWideValueErrors(string original, string replacement, string expected) =>
        Assert.Contains(expected, Fails(TrainingConfigFixtures.Minimal().Replace(original, replacement)).Message);

    [Fact]
    public void AdapterListErrors()
    {
        Assert.Contains("key \"lora\" lists no adapter", Fails("""{"cutoff_len": 8, "save_step": 1, "train_strategy": "optim", "lora": []}""").Message);
        Assert.Contains("key \"lora\" must be a list of adapter objects, got {}", Fails("""{"cutoff_len": 8, "save_step": 1, "train_strategy": "optim", "lora": {}}""").Message);
        Assert.Contains("lora[0] must be an adapter object, got 3", Fails("""{"cutoff_len": 8, "save_step": 1, "train_strategy": "optim", "lora": [3]}""").Message);
        Assert.Contains("missing key \"lora\"", Fails("""{"cutoff_len": 8, "save_step": 1, "train_strategy": "optim"}""").Message);
        Assert.Contains("not valid JSON", Fails("""{"cutoff_len": 8,""").Message);
        Assert.Contains("expected a JSON object at the top level", Fails("[]").Message);
    }

    [Fact]
    public void DuplicateAdapterNamesAreRejected()
    {
        const string adapter = """{"name": "a", "lr": 0.1, "batch_size": 1, "num_epochs": 1, "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj"]}""";
        var json = $$"""{"cutoff_len": 8, "save_step": 1, "train_strategy": "optim", "lora": [{{adapter}}, {{adapter}}]}""";
        Assert.Equal("config.json: lora[1] (\"a\"): name \"a\" is already used by lora[0]; adapter names must be unique (they name the output folders)",
            Fails(json).Message);
    }

    [Fact]
    public void MissingOrBadAdapterNames()
    {
        Assert.Contains("lora[0]: missing key \"name\"", Fails(TrainingConfigFixtures.Minimal().Replace("\"name\": \"a\",", "")).Message);
        Assert.Contains("lora[0]: key \"name\" must be a non-empty adapter name", Fails(TrainingConfigFixtures.Minimal().Replace("\"name\": \"a\"", "\"name\": \"\"")).Message);
        Assert.Contains("name \"x/y\" cannot be used as a folder name", Fails(TrainingConfigFixtures.Minimal().Replace("\"name\": \"a\"", "\"name\": \"x/y\"")).Message);
    }

    [Fact]
    public void MissingDataFileFailsValidateData()
    {
        using var dir = new TempDir();
        var config = TrainingConfig.Parse(TrainingConfigFixtures.Minimal().Replace("data.json", "missing.json"), "config.json");
        var e = Assert.Throws<InvalidFileException>(() => config.ValidateData(dir.Path, "config.json"));
        Assert.StartsWith("config.json: lora[0] (\"a\"): data file \"missing.json\" not found", e.Message);

        var noData = TrainingConfig.Parse(TrainingConfigFixtures.Minimal().Replace("\"data\": \"data.json\",", ""), "config.json");
        Assert.Contains("lora[0] (\"a\"): missing key \"data\"", Assert.Throws<InvalidFileException>(() => noData.ValidateData(dir.Path, "config.json")).Message);

        File.WriteAllText(dir.File("data.json"), "[]");
        var withPrompt = TrainingConfig.Parse(TrainingConfigFixtures.Minimal("\"prompt\": \"my_template.json\","), "config.json");
        Assert.Contains("lora[0] (\"a\"): prompt \"my_template.json\" is neither a built-in template",
            Assert.Throws<InvalidFileException>(() => withPrompt.ValidateData(dir.Path, "config.json")).Message);
    }

    [Fact]
    public void EmptyDatasetFailsBeforeTraining()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("data.json"), "[]");
        var config = TrainingConfig.Parse(TrainingConfigFixtures.Minimal(), "config.json");
        config.ValidateData(dir.Path, "config.json"); // the file exists
        var e = Assert.Throws<InvalidFileException>(() => TrainingData.Load(config.Lora[0], dir.Path));
        Assert.Equal(dir.File("data.json"), e.FilePath);
        Assert.Contains("the dataset is empty", e.Message);
    }

    [Fact]
    public void LoadNamesAMissingFile()
    {
        var e = Assert.Throws<InvalidFileException>(() => TrainingConfig.Load("/nonexistent/moe_peft.json"));
        Assert.Equal("/nonexistent/moe_peft.json: training config file not found", e.Message);
    }
}
