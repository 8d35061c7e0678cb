using MixLora.Config;
using MixLora.Tests.Support;

namespace MixLora.Tests.Config.TrainingConfigs;

/// <summary>
/// One rule for relative paths: `init` takes them relative to where the user stands and writes them relative to the
/// config file's folder, which is what `train` resolves them against.
/// </summary>
public class InitRelativePathTests
{
    [Fact]
    public void PathsGivenFromAnotherFolderResolveFromTheConfigsFolder()
    {
        using var dir = new TempDir();
        string work = dir.File("work");                                             // where the user runs init
        Directory.CreateDirectory(Path.Combine(work, "data"));
        File.Copy(RepoPaths.Asset("instruct", "moe-peft_dummy_data.json"), Path.Combine(work, "data", "train.json"));
        string configDir = dir.File("configs");                                    // where the config goes
        Directory.CreateDirectory(configDir);

        var config = TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions
        {
            Template = "mixlora", Tasks = "data/train.json", BaseDir = work, ConfigDir = configDir,
        });
        Assert.Equal("../work/data/train.json", config.Lora[0].Data);
        config.ValidateData(configDir);                                            // train's rule finds the file

        var keyed = TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions
        {
            Template = "lora", Tasks = "arc-e", DataPath = "data/train.json", BaseDir = work, ConfigDir = configDir,
        });
        Assert.Equal("../work/data/train.json", keyed.Lora[0].Data);

        // Without a config folder (library callers that manage paths themselves) the paths stay as given.
        var asGiven = TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions { Template = "mixlora", Tasks = "data/train.json", BaseDir = work });
        Assert.Equal("data/train.json", asGiven.Lora[0].Data);
        // Absolute paths are kept.
        string absolute = Path.Combine(work, "data", "train.json");
        var rooted = TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions { Template = "mixlora", Tasks = absolute, ConfigDir = configDir });
        Assert.Equal(absolute, rooted.Lora[0].Data);
    }
}
