using Microsoft.Playwright;

namespace MixLora.Tests.Serving.Web;

/// <summary>
/// One headless Debian chromium (apt package "chromium") driven by Playwright, shared by a test class. Playwright's
/// own browser builds are never used (nor downloaded): the browser is launched from <see cref="ExecutablePath"/>.
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    /// <summary>How long a page action or an expectation may wait.</summary>
    public const float TimeoutMs = 30_000;

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    /// <summary>$MIXLORA_CHROMIUM when set, else chromium on PATH, else /usr/bin/chromium.</summary>
    public static string ExecutablePath
    {
        get
        {
            string? fromEnv = Environment.GetEnvironmentVariable("MIXLORA_CHROMIUM");
            if (!string.IsNullOrEmpty(fromEnv)) return fromEnv;
            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            {
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, "chromium"))) return Path.Combine(dir, "chromium");
            }
            return "/usr/bin/chromium";
        }
    }

    public static BrowserTypeLaunchOptions LaunchOptions => new()
    {
        ExecutablePath = ExecutablePath,
        Headless = true,
        Args = ["--no-sandbox"],          // the tests run as root, where chromium's sandbox refuses to start
        Timeout = TimeoutMs,
    };

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("The browser is not started.");

    public async Task InitializeAsync()
    {
        string path = ExecutablePath;
        if (!File.Exists(path))
            throw new InvalidOperationException($"No chromium at {path}: the browser tests need Debian's chromium " +
                                                "(apt-get install -y chromium) or $MIXLORA_CHROMIUM naming one.");
        Assertions.SetDefaultExpectTimeout(TimeoutMs);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(LaunchOptions);
    }

    /// <summary>A fresh browser context (its own localStorage), with the test timeout; dispose it at the end.</summary>
    public async Task<IBrowserContext> NewContextAsync()
    {
        var context = await Browser.NewContextAsync();
        context.SetDefaultTimeout(TimeoutMs);
        return context;
    }

    public async Task DisposeAsync()
    {
        if (_browser != null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }
}
