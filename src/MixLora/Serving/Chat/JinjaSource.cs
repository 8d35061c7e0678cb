namespace MixLora.Serving;

/// <summary>
/// A template's text as Jinja2 sees it: line endings (\r\n, \r) become \n and one trailing newline is dropped
/// (Jinja's <c>keep_trailing_newline=False</c>). Maps character positions to 1-based line and column.
/// </summary>
internal sealed class JinjaSource
{
    private readonly int[] _lineStarts;

    public JinjaSource(string text, string name)
    {
        Name = name;
        var normalized = text.Replace("\r\n", "\n").Replace('\r', '\n');
        if (normalized.EndsWith('\n')) normalized = normalized[..^1];
        Text = normalized;
        var starts = new List<int> { 0 };
        for (int i = 0; i < Text.Length; i++)
        {
            if (Text[i] == '\n') starts.Add(i + 1);
        }
        _lineStarts = [.. starts];
    }

    /// <summary>Where the template came from (a file and key), used in error messages.</summary>
    public string Name { get; }

    public string Text { get; }

    public (int Line, int Column) Locate(int position)
    {
        position = Math.Clamp(position, 0, Text.Length);
        int index = Array.BinarySearch(_lineStarts, position);
        int line = index >= 0 ? index : ~index - 1;
        return (line + 1, position - _lineStarts[line] + 1);
    }
}
