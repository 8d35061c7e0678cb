using System.CommandLine;
using MixLora.Cli;
using MixLora.Cli.Commands;
using MixLora.Config;
using MixLora.Tests.Support;

namespace MixLora.Tests.Config.TrainingConfigs;

/// <summary>`mixlora init` (run through its own root command until the CLI registers it).</summary>
public class InitCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new CliConsole(output, error);
        var root = new RootCommand("test") { InitCommand.Create(console) };
        int code;
        try
        {
            code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (MixLoraException e)
        {
            console.Error(e.Message);
            code = 1;
        }
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void WritesALoadableConfigAndSaysWhatItWrote()
    {
        using var dir = new TempDir();
        var path = dir.File("sub/moe_peft.json");
        var result = Run("init", "--template", "mixlora", "--tasks", "arc-c;boolq", "--lr", "0.001", "--batch-size", "4", "--micro-batch-size", "2",
                         "--num-epochs", "3", "--cutoff-len", "64", "--use-rslora", "--no-train-on-inputs", "--output", path);
        Assert.Equal(0, result.Code);
        Assert.StartsWith($"wrote {path}: 2 adapter(s) (2 new), cutoff_len 64, save_step 1000", result.Out);
        Assert.Contains("  arc_c_0: task arc-c; MixLoRA mixlora, 8 experts, r 16, alpha 32; lr 0.001 constant, batch 4 (micro 2), 3 epoch(s)", result.Out);

        var config = TrainingConfig.Load(path);
        Assert.Equal(["arc_c_0", "boolq_1"], config.Lora.Select(a => a.Name));
        Assert.All(config.Lora, a => Assert.Equal((0.001, 4, 2, 3, true, false), (a.Lr, a.BatchSize, a.MicroBatchSize, a.NumEpochs, a.Adapter.UseRsLora, a.TrainOnInputs)));
        Assert.Equal(config.ToJson() + "\n", File.ReadAllText(path));
        Assert.Empty(Directory.GetFiles(dir.File("sub"), "*.tmp")); // written atomically, no leftovers

        var appended = Run("init", "--template", "dora", "--tasks", RepoPaths.Asset("instruct", "moe-peft_dummy_data.json"), "--append", "-o", path);
        Assert.Equal(0, appended.Code);
        Assert.Contains("3 adapter(s) (1 new)", appended.Out);
        var all = TrainingConfig.Load(path);
        Assert.Equal(("casual_2", "alpaca", true), (all.Lora[2].Name, all.Lora[2].Prompt, all.Lora[2].Adapter.UseDora));
    }

    [Fact]
    public void BadArgumentsFailWithoutWriting()
    {
        using var dir = new TempDir();
        var path = dir.File("moe_peft.json");
        var result = Run("init", "--template", "mixlora", "--tasks", "nothing-here", "--output", path);
        Assert.Equal(1, result.Code);
        Assert.Contains("error: task \"nothing-here\" is neither a task key", result.Err);
        Assert.False(File.Exists(path));

        Assert.NotEqual(0, Run("init", "--template", "mixlora").Code); // --tasks is required
    }

    [Fact]
    public void AdapterShapeOptionsReachTheConfig()
    {
        using var dir = new TempDir();
        var path = dir.File("shaped.json");
        var result = Run("init", "--template", "mixlora", "--tasks", "boolq", "--num-experts", "4", "--top-k", "1", "--r", "4", "--alpha", "8", "--output", path);
        Assert.Equal(0, result.Code);
        var a = TrainingConfig.Load(path).Lora[0].Adapter;
        Assert.Equal((4, 1, 4, 8, "mixlora"), (a.NumExperts, a.TopK, a.R, a.LoraAlpha, a.RoutingStrategy));

        var dynamic = dir.File("dynamic.json");
        Assert.Equal(0, Run("init", "--template", "mixlora", "--tasks", "boolq", "--routing", "mixlora-dynamic", "--output", dynamic).Code);
        Assert.True(TrainingConfig.Load(dynamic).Lora[0].Adapter.IsDynamicRouting);

        // A value the config rules refuse is an error naming the key, and nothing is written.
        var bad = dir.File("bad.json");
        var refused = Run("init", "--template", "mixlora", "--tasks", "boolq", "--num-experts", "2", "--top-k", "3", "--output", bad);
        Assert.Equal(1, refused.Code);
        Assert.Contains("top_k", refused.Err);
        Assert.False(File.Exists(bad));
    }
}
