namespace MixLora.Tokenization;

/// <summary>One step of a tokenizer.json pre_tokenizer: turns each piece into zero or more pieces.</summary>
internal interface IPreTokenizerStep
{
    void Apply(string piece, List<string> output);
}

/// <summary>How a Split step treats the pattern's matches (tokenizers' SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>"Split": cuts a piece at the matches of a regex or literal string.</summary>
internal sealed class SplitStep(RegexSplitter splitter, SplitBehavior behavior, bool invert) : IPreTokenizerStep
{
    public void Apply(string piece, List<string> output)
    {
        var parts = splitter.Split(piece);
        if (invert) parts = parts.ConvertAll(p => p with { IsMatch = !p.IsMatch });

        // Pieces as [start, end) ranges, built according to the behavior, then emitted when non-empty.
        var ranges = new List<(int Start, int End)>();
        bool previousWasMatch = false;
        for (int i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            switch (behavior)
            {
                case SplitBehavior.Removed:
                    if (!part.IsMatch) ranges.Add((part.Start, part.End));
                    break;
                case SplitBehavior.Isolated:
                    ranges.Add((part.Start, part.End));
                    break;
                case SplitBehavior.MergedWithPrevious:
                    if (part.IsMatch && ranges.Count > 0 && !previousWasMatch) ranges[^1] = (ranges[^1].Start, part.End);
                    else ranges.Add((part.Start, part.End));
                    break;
                case SplitBehavior.MergedWithNext:
                    if (!part.IsMatch && previousWasMatch && ranges.Count > 0) ranges[^1] = (ranges[^1].Start, part.End);
                    else ranges.Add((part.Start, part.End));
                    break;
                case SplitBehavior.Contiguous:
                    if (part.IsMatch && previousWasMatch) ranges[^1] = (ranges[^1].Start, part.End);
                    else ranges.Add((part.Start, part.End));
                    break;
            }
            previousWasMatch = part.IsMatch;
        }
        foreach (var (start, end) in ranges)
        {
            if (end > start) output.Add(piece.Substring(start, end - start));
        }
    }
}

/// <summary>
/// "ByteLevel": optionally prefixes a space, optionally splits with GPT-2's pattern, then rewrites each piece
/// into the byte-level alphabet that the BPE vocabulary is written in.
/// </summary>
internal sealed class ByteLevelStep(bool addPrefixSpace, bool useRegex) : IPreTokenizerStep
{
    // GPT-2's pre-tokenization pattern, used by ByteLevel when use_regex is true.
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private static readonly Lazy<RegexSplitter> Gpt2Splitter = new(() => RegexSplitter.FromPattern(Gpt2Pattern, "(built-in)", "ByteLevel"));

    public void Apply(string piece, List<string> output)
    {
        if (addPrefixSpace && !piece.StartsWith(' ')) piece = " " + piece;
        if (!useRegex)
        {
            output.Add(ByteLevelAlphabet.Encode(piece));
            return;
        }
        foreach (var part in Gpt2Splitter.Value.Split(piece))
            output.Add(ByteLevelAlphabet.Encode(piece.AsSpan(part.Start, part.End - part.Start)));
    }
}

/// <summary>A chain of steps applied in order; every step sees all pieces of the previous one.</summary>
internal sealed class PreTokenizerPipeline(IReadOnlyList<IPreTokenizerStep> steps)
{
    public List<string> Run(string text)
    {
        var pieces = new List<string> { text };
        foreach (var step in steps)
        {
            var next = new List<string>(pieces.Count * 2);
            foreach (var piece in pieces) step.Apply(piece, next);
            pieces = next;
        }
        return pieces;
    }
}
