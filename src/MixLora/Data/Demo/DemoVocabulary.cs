namespace MixLora.Data;

/// <summary>
/// The words the demo tasks are built from: everyday TinyStories English that the stories260K tokenizer (tok512)
/// encodes in at most three tokens with its leading space (four for the plural), so answers are short to generate.
/// Nouns are countable with a regular plural (noun + "s"). Each pool is split once into training and held-out words;
/// the two halves never share a word. Many different training words matter: with few, the adapter memorises how
/// the training words continue instead of learning to copy.
/// </summary>
internal static class DemoVocabulary
{
    private static readonly string[] AllNouns =
    [
        "ant", "ape", "arm", "axe", "bag", "ball", "bat", "bath", "bead", "beak", "bean", "bear", "bed", "bee",
        "bell", "belt", "bike", "bin", "bird", "boat", "bone", "book", "boot", "bow", "bowl", "boy", "bread",
        "brick", "bug", "bun", "button", "cake", "cap", "car", "card", "cart", "cat", "chin", "coat", "coin", "comb",
        "cone", "corn", "cot", "cow", "cub", "cup", "dad", "den", "desk", "doll", "door", "dot", "duck", "egg",
        "eye", "farm", "fan", "fence", "fig", "fin", "fire", "foot", "fork", "game", "gate", "gem", "girl", "goat",
        "hall", "ham", "hand", "hat", "hen", "hill", "hive", "hole", "home", "hook", "horn", "horse", "hose",
        "house", "hut", "jar", "jet", "key", "kid", "king", "kite", "kitten", "lake", "lamb", "lamp", "lap", "leg",
        "lid", "lime", "lion", "lip", "lock", "log", "map", "mat", "mint", "mitt", "mole", "moon", "mop", "moth",
        "mug", "nail", "nap", "neck", "nest", "net", "nose", "note", "nut", "oak", "owl", "pad", "pail", "pan",
        "park", "pea", "pear", "pen", "pet", "pie", "pig", "pin", "plate", "plum", "pond", "pool", "pot",
        "rag", "rake", "rat", "ring", "road", "rock", "roof", "room", "rose", "rug", "sail", "seat", "seed", "shed",
        "shell", "sink", "sled", "sock", "sofa", "song", "soup", "star", "stick", "stone", "store", "sun", "swing",
        "tail", "tap", "tent", "tie", "tire", "toad", "toe", "top", "town", "toy", "tree", "tub", "van", "vest",
        "wall", "wand", "web", "wig", "wing", "worm", "yard", "yarn", "zoo",
    ];

    private static readonly string[] AllNames =
    [
        "Tim", "Lily", "Ben", "Tom", "Sam", "Sue", "Max", "Mia", "Sara", "Bob", "Amy", "Leo", "Dan", "Mike", "Sally",
        "Jen", "Mark", "Lisa", "Timmy", "Kim", "Ted", "Ned", "Meg", "Liz", "Jim", "Ray", "Sid", "Tess", "Bill",
        "Ron", "Pam", "Kay", "Lee", "Lou", "Nan", "Sal", "Tad", "Wes", "Tammy", "Tommy", "Sammy", "Mimi", "Tina",
    ];

    /// <summary>Every fourth word is held out: the split is spread over the whole (alphabetical) list.</summary>
    private static bool IsHeldOut(int index) => index % 4 == 3;

    public static IReadOnlyList<string> Nouns(bool heldOut) => Split(AllNouns, heldOut);

    public static IReadOnlyList<string> Names(bool heldOut) => Split(AllNames, heldOut);

    /// <summary>Every real word of both halves (so made-up words never collide with one).</summary>
    public static IEnumerable<string> All => AllNouns.Concat(AllNames);

    private static string[] Split(string[] words, bool heldOut) =>
        words.Where((_, i) => IsHeldOut(i) == heldOut).ToArray();
}
