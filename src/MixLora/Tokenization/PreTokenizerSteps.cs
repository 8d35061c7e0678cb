namespace MixLora.Tokenization;

/// <summary>
/// A piece of pre-tokenized text. <see cref="AtStart"/>: the piece begins the whole input (tokenizers' original
/// offset 0), which Metaspace's prepend_scheme "first" asks about; a stretch after an added token never does.
/// </summary>
internal readonly record struct PreToken(string Text, bool AtStart);

/// <summary>One step of a tokenizer.json pre_tokenizer: turns each piece into zero or more pieces.</summary>
internal interface IPreTokenizerStep
{
    void Apply(PreToken piece, List<PreToken> output);
}

/// <summary>How a Split step treats the pattern's matches (tokenizers' SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>"Split": cuts a piece at the matches of a regex or literal string.</summary>
internal sealed class SplitStep(RegexSplitter splitter, SplitBehavior behavior, bool invert) : IPreTokenizerStep
{
    public void Apply(PreToken piece, List<PreToken> output)
    {
        var parts = splitter.Split(piece.Text);
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
            if (end > start) output.Add(new PreToken(piece.Text.Substring(start, end - start), piece.AtStart && start == 0));
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

    public void Apply(PreToken piece, List<PreToken> output)
    {
        string text = addPrefixSpace && !piece.Text.StartsWith(' ') ? " " + piece.Text : piece.Text;
        if (!useRegex)
        {
            output.Add(piece with { Text = ByteLevelAlphabet.Encode(text) });
            return;
        }
        foreach (var part in Gpt2Splitter.Value.Split(text))
            output.Add(new PreToken(ByteLevelAlphabet.Encode(text.AsSpan(part.Start, part.End - part.Start)), piece.AtStart && part.Start == 0));
    }
}

/// <summary>When Metaspace puts its replacement character before a piece (tokenizers' PrependScheme).</summary>
internal enum PrependScheme { Always, First, Never }

/// <summary>
/// "Metaspace": spaces become the replacement character (normally '▁'), which is put before the piece unless it
/// already starts with one (always, or only for the piece that begins the input, or never); with split, the piece
/// is then cut before every replacement character ("a▁▁b" → "a", "▁", "▁b").
/// </summary>
internal sealed class MetaspaceStep(string replacement, PrependScheme prependScheme, bool split) : IPreTokenizerStep
{
    private readonly SplitStep? _splitter = split ? new SplitStep(RegexSplitter.FromLiteral(replacement), SplitBehavior.MergedWithNext, invert: false) : null;

    public void Apply(PreToken piece, List<PreToken> output)
    {
        string text = piece.Text.Replace(" ", replacement, StringComparison.Ordinal);
        bool prepend = prependScheme == PrependScheme.Always || (prependScheme == PrependScheme.First && piece.AtStart);
        if (prepend && text.Length > 0 && !text.StartsWith(replacement, StringComparison.Ordinal)) text = replacement + text;
        if (_splitter != null) _splitter.Apply(piece with { Text = text }, output);
        else if (text.Length > 0) output.Add(piece with { Text = text });
    }
}

/// <summary>A chain of steps applied in order; every step sees all pieces of the previous one.</summary>
internal sealed class PreTokenizerPipeline(IReadOnlyList<IPreTokenizerStep> steps)
{
    /// <param name="text">A normalized stretch of text between added tokens.</param>
    /// <param name="atStart">Whether the stretch begins the whole input.</param>
    public List<PreToken> Run(string text, bool atStart)
    {
        var pieces = new List<PreToken> { new(text, atStart) };
        foreach (var step in steps)
        {
            var next = new List<PreToken>(pieces.Count * 2);
            foreach (var piece in pieces) step.Apply(piece, next);
            pieces = next;
        }
        return pieces;
    }
}
