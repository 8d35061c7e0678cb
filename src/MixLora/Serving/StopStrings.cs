namespace MixLora.Serving;

/// <summary>
/// Releases generated text for streaming while honouring stop strings: text that could still turn out to be the start
/// of a stop string is held back until the next token decides, and a completed stop string ends the text before it.
/// </summary>
internal sealed class StopStrings(IReadOnlyList<string> stops)
{
    private readonly IReadOnlyList<string> _stops = stops.Where(s => s.Length > 0).ToList();
    private string _text = "";
    private int _released;

    /// <summary>Whether a stop string has been found (no further text is accepted).</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds final text and returns what can be released now.</summary>
    public string Add(string delta)
    {
        if (Stopped || delta.Length == 0) return "";
        int searchFrom = Math.Max(0, _text.Length - _stops.Select(s => s.Length).DefaultIfEmpty(0).Max());
        _text += delta;
        int cut = _stops.Select(s => _text.IndexOf(s, searchFrom, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (cut >= 0)
        {
            Stopped = true;
            _text = _text[..cut];
            return Release(_text.Length);
        }
        return Release(_text.Length - HeldBack());
    }

    /// <summary>Everything not yet released (at the end of generation).</summary>
    public string Flush() => Release(_text.Length);

    /// <summary>The longest suffix of the text that is a proper prefix of a stop string.</summary>
    private int HeldBack()
    {
        int held = 0;
        foreach (var stop in _stops)
            for (int n = Math.Min(stop.Length - 1, _text.Length); n > held; n--)
                if (_text.AsSpan(_text.Length - n).SequenceEqual(stop.AsSpan(0, n))) { held = n; break; }
        return held;
    }

    private string Release(int upTo)
    {
        if (upTo <= _released) return "";
        var part = _text[_released..upTo];
        _released = upTo;
        return part;
    }
}
