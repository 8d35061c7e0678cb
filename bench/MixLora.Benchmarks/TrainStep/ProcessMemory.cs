namespace MixLora.Benchmarks.TrainStep;

/// <summary>Resident memory of this process from /proc (KiB; 0 where /proc is missing).</summary>
public static class ProcessMemory
{
    /// <summary>VmHWM: the peak resident set size so far (what getrusage's ru_maxrss reports).</summary>
    public static long PeakRssKiB() => StatusField("VmHWM:");

    /// <summary>VmRSS: the resident set size now.</summary>
    public static long RssKiB() => StatusField("VmRSS:");

    /// <summary>Resets VmHWM to the current RSS (Linux: clear_refs 5); false where the kernel does not allow it.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private static long StatusField(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }
}
