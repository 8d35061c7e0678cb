namespace MixLora.Tests.Support;

/// <summary>Locates the repository's data files (assets/…) from the test output folder.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    public static string Root => RootLazy.Value;

    /// <summary>Absolute path of a file or folder under the repository's assets/ folder.</summary>
    public static string Asset(params string[] parts) => Path.Combine([Root, "assets", .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MixLora.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("MixLora.slnx not found above " + AppContext.BaseDirectory);
    }
}
