using System.Text;

namespace MixLora.Benchmarks.Harness;

/// <summary>A GitHub-markdown table with padded columns, readable both on the console and rendered.</summary>
public sealed class MarkdownTable(params string[] header)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells)
    {
        if (cells.Length != header.Length)
            throw new ArgumentException($"a row has {cells.Length} cells, the header {header.Length}", nameof(cells));
        _rows.Add(cells);
    }

    /// <summary>The table; the first column is left-aligned (names), the others right-aligned (numbers).</summary>
    public override string ToString()
    {
        var widths = header.Select((h, c) => Math.Max(3, _rows.Select(r => r[c].Length).Append(h.Length).Max())).ToArray();
        var text = new StringBuilder();
        Line(header);
        text.Append('|');
        for (int c = 0; c < widths.Length; c++)
            text.Append(c == 0 ? $" {new string('-', widths[c])} |" : $" {new string('-', widths[c] - 1)}: |");
        text.AppendLine();
        foreach (var row in _rows) Line(row);
        return text.ToString();

        void Line(string[] cells)
        {
            text.Append('|');
            for (int c = 0; c < cells.Length; c++)
                text.Append(' ').Append(c == 0 ? cells[c].PadRight(widths[c]) : cells[c].PadLeft(widths[c])).Append(" |");
            text.AppendLine();
        }
    }
}
