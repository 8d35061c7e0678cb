using System.IO.Compression;
using System.Reflection;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.Packaging;

/// <summary>
/// Issue 11, the library as a dependency: a console project outside the repository gets the logits this test computes
/// in-process, using the packed MixLora package with nothing extra, or a project reference plus the one Import line the
/// README gives. Both work only if the package's libLibTorchSharp.so fix (buildTransitive/MixLora.targets) runs in
/// the consumer's own build: on Debian 12 TorchSharp does not load without it.
/// </summary>
[Trait("Category", "Packaging")]
public class ConsumerProjectTests
{
    private static readonly long[] Ids = [1, 403, 407, 9, 300];

    /// <summary>The tests' build configuration: the library was built in it, so packing and referencing reuse that build.</summary>
    private static string Configuration =>
        typeof(ConsumerProjectTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;

    private static string LibraryProject => Path.Combine(RepoPaths.Root, "src", "MixLora", "MixLora.csproj");

    [Fact]
    public void PackageConsumerNeedsNothingButThePackageReference()
    {
        if (!OperatingSystem.IsLinux()) return;                // the package's native dependency is libtorch-cpu-linux-x64
        using var feed = new TempDir();
        // A version no earlier run used: the global packages folder caches by id and version, so a fixed version would
        // hand later runs the first run's package. This run's copy is removed from that folder at the end.
        string version = $"0.1.0-test.{DateTime.UtcNow.Ticks}";
        var pack = Dotnet.Run(RepoPaths.Root, ["pack", LibraryProject, "--no-build", "-c", Configuration, "-o", feed.Path,
                                          $"-p:Version={version}", $"-p:NuspecOutputPath={feed.File("nuspec")}"]);
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed ({pack.ExitCode}):\n{pack.Output}");
        AssertPackageHoldsTheTestedLibrary(feed.File($"MixLora.{version}.nupkg"));

        using var consumer = new ConsumerProject($"""<PackageReference Include="MixLora" Version="{version}" />""");
        // The local feed is added to the machine's own sources (user-level NuGet.Config), which serve the dependencies.
        File.WriteAllText(Path.Combine(consumer.Dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="mixlora-test-feed" value="{feed.Path}" />
              </packageSources>
            </configuration>
            """);
        try
        {
            AssertLogitsMatchInProcess(consumer.RunForward(Stories260K.Dir, Ids));
            AssertOutputLibraryPatched(consumer);
        }
        finally
        {
            if (File.Exists(Path.Combine(consumer.Dir, "obj", "project.assets.json")))
            {
                try { Directory.Delete(consumer.RestoredPackage("MixLora").PackagePath, recursive: true); }
                catch (IOException) { }
            }
        }
    }

    [Fact]
    public void ProjectReferenceConsumerNeedsTheImportLine()
    {
        if (!OperatingSystem.IsLinux()) return;
        string buildTargets = Path.Combine(RepoPaths.Root, "src", "MixLora", "build", "MixLora.targets");
        using var consumer = new ConsumerProject($"""<ProjectReference Include="{LibraryProject}" />""",
                                                 $"""  <Import Project="{buildTargets}" />""" + "\n");
        AssertLogitsMatchInProcess(consumer.RunForward(Stories260K.Dir, Ids, Configuration));
        AssertOutputLibraryPatched(consumer);
    }

    /// <summary>The package carries both targets files and the very MixLora.Core.dll this test process runs.</summary>
    private static void AssertPackageHoldsTheTestedLibrary(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        Assert.NotNull(zip.GetEntry("build/MixLora.targets"));
        Assert.NotNull(zip.GetEntry("buildTransitive/MixLora.targets"));
        var dll = zip.GetEntry("lib/net10.0/MixLora.Core.dll") ?? throw new Xunit.Sdk.XunitException("no lib/net10.0/MixLora.Core.dll");
        using var packed = new MemoryStream();
        using (var s = dll.Open()) s.CopyTo(packed);
        Assert.True(packed.ToArray().AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "MixLora.Core.dll"))),
                    "the packed MixLora.Core.dll differs from the one the tests run (stale library build?)");
    }

    private static void AssertLogitsMatchInProcess(float[] printed)
    {
        using var model = Stories260K.Load();
        using var ids = tensor(Ids).unsqueeze(0);
        using var output = model.Model.Forward(ids);
        Assert.Equal(output.Logits.numel(), printed.LongLength);
        using var actual = tensor(printed).reshape(output.Logits.shape);
        TensorAssert.Close(output.Logits, actual, 1e-5, "consumer logits");
    }

    /// <summary>
    /// The consumer's copy was patched by its own build (a few flag bytes differ from TorchSharp's file), and the NuGet
    /// cache's file was not: on a machine whose libstdc++ is new enough the run alone would not show the fix ran.
    /// </summary>
    private static void AssertOutputLibraryPatched(ConsumerProject consumer)
    {
        string original = Path.Combine(consumer.RestoredPackage("TorchSharp").PackagePath, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        byte[] cached = File.ReadAllBytes(original);
        string[] copies = consumer.OutputLibTorchSharpCopies();
        Assert.NotEmpty(copies);
        foreach (string copy in copies)
        {
            byte[] b = File.ReadAllBytes(copy);
            Assert.Equal(cached.Length, b.Length);
            int differing = Enumerable.Range(0, b.Length).Count(i => b[i] != cached[i]);
            Assert.InRange(differing, 1, 8);
        }
    }
}
