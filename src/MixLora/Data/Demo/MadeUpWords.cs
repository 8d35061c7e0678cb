namespace MixLora.Data;

/// <summary>
/// Pronounceable made-up words ("blim", "tosk", "ven") for the demo's training set. A small model fine-tuned on a
/// few hundred real words learns to copy the first token and then finish the word from memory ("axe" → "ape");
/// words it cannot have memorised force it to learn the copying rule itself, which then carries over to the real,
/// held-out words of the validation set. Deterministic: a fixed-seed SplitMix64 stream, no <see cref="Random"/>.
/// </summary>
internal sealed class MadeUpWords
{
    private const string Vowels = "aeiou";
    private const string Consonants = "bdfgklmnprtvw";    // no s/x/z: the plural stays word + "s"
    private static readonly string[] Onsets = ["bl", "br", "dr", "fl", "fr", "gl", "gr", "kl", "pl", "pr", "sl", "sn", "sp", "st", "tr"];
    private static readonly string[] Codas = ["nd", "nk", "nt", "mp", "lt", "ft", "lk", "rk"];

    private readonly HashSet<string> _used;
    private ulong _state;

    /// <param name="reserved">Words never to produce (every real word of the dataset), compared ignoring case.</param>
    public MadeUpWords(ulong seed, IEnumerable<string> reserved)
    {
        _state = seed;
        _used = new HashSet<string>(reserved, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A word not produced before and not reserved, lower case, 2–5 letters.</summary>
    public string Next()
    {
        while (true)
        {
            var word = Pick(6) switch
            {
                0 => $"{Consonant()}{Vowel()}{Consonant()}",          // bim
                1 => $"{Pick(Onsets)}{Vowel()}{Consonant()}",          // blim
                2 => $"{Consonant()}{Vowel()}{Pick(Codas)}",           // tomp
                3 => $"{Vowel()}{Consonant()}",                        // ob
                4 => $"{Consonant()}{Vowel()}{Consonant()}e",          // dake: many real nouns end in a silent e
                _ => $"{Consonant()}{Vowel()}{Consonant()}{Vowel()}",  // moku
            };
            if (_used.Add(word)) return word;
        }
    }

    private char Vowel() => Vowels[Pick(Vowels.Length)];

    private char Consonant() => Consonants[Pick(Consonants.Length)];

    private string Pick(string[] options) => options[Pick(options.Length)];

    private int Pick(int count) => (int)(NextUInt64() % (ulong)count);

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): a fixed, portable sequence for a given seed.</summary>
    private ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
