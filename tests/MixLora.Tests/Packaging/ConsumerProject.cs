using System.Diagnostics;
using System.Text.Json.Nodes;
using MixLora.Tests.Support;

namespace MixLora.Tests.Packaging;

/// <summary>
/// A console project in a temp folder outside the repository that uses the library the way a consumer would, built and
/// run with the `dotnet` CLI in child processes.
/// </summary>
public sealed class ConsumerProject : IDisposable
{
    /// <summary>
    /// Loads the model folder given as the first argument, runs one forward on the token ids that follow and prints
    /// the logits [1, T, V] on one line. Written as a consumer would write it: only the package's public API.
    /// </summary>
    private const string ProgramSource = """
        using System.Globalization;
        using MixLora.IO;

        using var model = PretrainedModel.Load(args[0]);
        using var ids = TorchSharp.torch.tensor(args.Skip(1).Select(long.Parse).ToArray()).unsqueeze(0);
        using var output = model.Model.Forward(ids);
        var logits = output.Logits.data<float>().ToArray();
        Console.WriteLine("logits " + string.Join(' ', logits.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        """;

    private readonly TempDir _dir = new();

    public string Dir => _dir.Path;

    /// <summary>Writes Consumer.csproj (with the given item lines and extra lines before &lt;/Project&gt;) and Program.cs.</summary>
    public ConsumerProject(string items, string tail = "")
    {
        AssertNoBuildFilesAbove(Dir);
        File.WriteAllText(Path.Combine(Dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                {items}
              </ItemGroup>
            {tail}</Project>
            """);
        File.WriteAllText(Path.Combine(Dir, "Program.cs"), ProgramSource);
    }

    /// <summary>`dotnet run` of the consumer; the logits it printed.</summary>
    public float[] RunForward(string modelDir, IEnumerable<long> ids, string configuration = "Debug")
    {
        var result = Dotnet.Run(Dir, ["run", "--disable-build-servers", "-c", configuration, "--", modelDir, .. ids.Select(i => i.ToString())]);
        Assert.True(result.ExitCode == 0, $"dotnet run of the consumer failed ({result.ExitCode}):\n{result.Output}");
        string line = result.Out.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("logits ", StringComparison.Ordinal))
                      ?? throw new Xunit.Sdk.XunitException("the consumer printed no logits:\n" + result.Output);
        return line["logits ".Length..].Split(' ').Select(s => float.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The NuGet global packages folder and a package's folder in it, from the consumer's restore output.</summary>
    public (string PackagesFolder, string PackagePath) RestoredPackage(string id)
    {
        var assets = JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "obj", "project.assets.json")))!;
        string folder = assets["packageFolders"]!.AsObject().First().Key;
        string path = assets["libraries"]!.AsObject()
            .First(p => p.Key.StartsWith(id + "/", StringComparison.OrdinalIgnoreCase) && (string?)p.Value!["type"] == "package")
            .Value!["path"]!.GetValue<string>();
        return (folder, Path.Combine(folder, path));
    }

    /// <summary>Every libLibTorchSharp.so the consumer's build put under bin/.</summary>
    public string[] OutputLibTorchSharpCopies() =>
        Directory.GetFiles(Path.Combine(Dir, "bin"), "libLibTorchSharp.so", SearchOption.AllDirectories);

    /// <summary>A Directory.Build.* or Directory.Packages.props above the folder would leak into the consumer's build.</summary>
    private static void AssertNoBuildFilesAbove(string dir)
    {
        string[] names = ["Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props"];
        for (var d = new DirectoryInfo(dir); d != null; d = d.Parent)
        {
            foreach (string name in names)
                Assert.False(File.Exists(Path.Combine(d.FullName, name)), $"{Path.Combine(d.FullName, name)} would be imported by the consumer");
        }
    }

    public void Dispose() => _dir.Dispose();
}
