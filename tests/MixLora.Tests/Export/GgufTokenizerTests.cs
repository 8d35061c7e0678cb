using MixLora.Export;
using MixLora.IO;
using MixLora.IO.Gguf;
using MixLora.Benchmarks.ExportDecode;
using MixLora.Tests.Support;

namespace MixLora.Tests.Export;

/// <summary>llama.cpp's tokenizer, reading the vocabulary we wrote into the GGUF, gives our tokenizer's ids.</summary>
[Collection(nameof(LlamaCppCollection))]
public class GgufTokenizerTests
{
    private static readonly string[] Texts =
    [
        "Once upon a time, there was a little girl.",
        "Hello world",
        "naïve café, 日本語 and emoji 🙂",
        "numbers 12345 and 3.14159, symbols !?@#$%",
        "line one\nline two\ttabbed",
    ];

    /// <summary>
    /// Runs of spaces: stories260K's tok512 squeezes them (SentencePiece remove_extra_whitespaces), which llama.cpp's
    /// SentencePiece tokenizer does not implement and GGUF cannot state, so only the other tokenizers are checked on it.
    /// </summary>
    private const string Spaced = "  two leading spaces,   three inside and a trailing one ";

    /// <summary>A tiny random llama with <paramref name="tokenizer"/>'s files in place of the stories260K tokenizer.</summary>
    private static string ModelWith(TempDir dir, string tokenizer, int vocab)
    {
        var folder = dir.File("model");
        TinyModelFolder.Write(folder, TinyModels.Config(vocab: vocab, hidden: 32, layers: 1), seed: 3).Dispose();
        if (tokenizer == "stories260K") return folder;
        File.Delete(Path.Combine(folder, "tokenizer.model"));
        File.Delete(Path.Combine(folder, "tokenizer_config.json"));
        foreach (var file in Directory.EnumerateFiles(RepoPaths.Asset("tokenizers", tokenizer)).Where(f => f.EndsWith(".json") || f.EndsWith(".model")))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    [Theory]
    [InlineData("stories260K", 512, "llama", false)]
    [InlineData("llama2", 32000, "llama", true)]
    [InlineData("llama3", 128256, "gpt2", true)]
    [InlineData("qwen3", 151936, "gpt2", true)]
    public void LlamaCppTokenizesAsWeDo(string tokenizer, int vocab, string ggmlModel, bool keepsSpaces)
    {
        using var dir = new TempDir();
        using var model = PretrainedModel.Load(ModelWith(dir, tokenizer, vocab));
        GgufExporter.Export(model, null, dir.File("model.gguf"));
        Assert.Equal(ggmlModel, GgufReader.ReadHeader(dir.File("model.gguf")).Metadata["tokenizer.ggml.model"]);
        using var llama = new LlamaCpp(dir.File("model.gguf"), contextSize: 64);
        foreach (var text in keepsSpaces ? [.. Texts, Spaced] : Texts)
        {
            Assert.Equal(model.Tokenizer.Encode(text), llama.Tokenize(text, addBos: true));
            Assert.Equal(model.Tokenizer.Encode(text, addSpecialTokens: false), llama.Tokenize(text, addBos: false));
        }
    }
}
