using System.Text.Json.Nodes;
using MixLora.Tests.Support;
using MixLora.Tokenization;

namespace MixLora.Tests.Tokenization;

/// <summary>Bad folders and files give a MixLoraException that names the file and the problem.</summary>
public class TokenizerLoaderErrorTests
{
    [Fact]
    public void FolderWithoutTokenizerFilesIsAClearError()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{}");
        var error = Assert.Throws<MixLoraException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.Contains(dir.Path, error.Message);
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains("tokenizer.model", error.Message);
    }

    [Fact]
    public void MissingFolderIsAClearError()
    {
        using var dir = new TempDir();
        string missing = Path.Combine(dir.Path, "nope");
        var error = Assert.Throws<MixLoraException>(() => TokenizerLoader.FromFolder(missing));
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void MalformedTokenizerJsonNamesTheFile()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), "{ \"model\": { \"vocab\": ");
        var error = Assert.Throws<InvalidFileException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.Equal(dir.File("tokenizer.json"), error.FilePath);
        Assert.StartsWith(dir.File("tokenizer.json") + ":", error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Theory]
    [InlineData("merge of unknown token", "model.merges[0]")]
    [InlineData("vocab id is a string", "model.vocab")]
    [InlineData("merge with three parts", "model.merges[0]")]
    [InlineData("missing model", "'model'")]
    public void InvalidTokenizerJsonContentNamesFileAndKey(string problem, string expectedKey)
    {
        var json = SyntheticTokenizerJson.Build([("a", "b")]);
        switch (problem)
        {
            case "merge of unknown token": json["model"]!["merges"] = new JsonArray("a zz"); break;
            case "vocab id is a string": json["model"]!["vocab"]!["a"] = "one"; break;
            case "merge with three parts": json["model"]!["merges"] = new JsonArray("a b c"); break;
            case "missing model": json.Remove("model"); break;
        }
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        var error = Assert.Throws<InvalidFileException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.Equal(dir.File("tokenizer.json"), error.FilePath);
        Assert.Contains(expectedKey, error.Message);
    }

    [Theory]
    [InlineData("pre_tokenizer", """{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel"}]}""", "Digits")]
    [InlineData("normalizer", """{"type":"BertNormalizer","clean_text":true}""", "'normalizer.type' = \"BertNormalizer\"")]
    [InlineData("decoder", """{"type":"Sequence","decoders":[{"type":"ByteLevel"},{"type":"WordPiece","prefix":"##"}]}""", "'decoder.decoders[1].type' = \"WordPiece\"")]
    [InlineData("post_processor", """{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]}""", "RobertaProcessing")]
    [InlineData("pre_tokenizer", """{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{Han}+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel"}]}""", @"\p{Han}+")]
    public void UnsupportedComponentsAreNamed(string component, string definition, string expectedInMessage)
    {
        var json = SyntheticTokenizerJson.Build([("a", "b")]);
        json[component] = JsonNode.Parse(definition);
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        var error = Assert.Throws<MixLoraException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.StartsWith(dir.File("tokenizer.json") + ":", error.Message);
        Assert.Contains(expectedInMessage, error.Message);
    }

    [Fact]
    public void NonByteLevelTokenizerJsonFallsBackToTokenizerModel()
    {
        using var dir = new TempDir();
        File.Copy(RepoPaths.Asset("stories260K", "tok512.model"), dir.File("tokenizer.model"));
        // The shape of LLaMA-2's tokenizer.json: a byte-fallback BPE with Metaspace-style pieces.
        File.WriteAllText(dir.File("tokenizer.json"),
            """{"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"}]},"pre_tokenizer":null,"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"}]},"model":{"type":"BPE","byte_fallback":true,"vocab":{},"merges":[]}}""");
        var tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.Equal("sentencepiece", tokenizer.Kind);
        Assert.Equal(TokenizerGolden.Cases("tok512")[0].Ids, tokenizer.Encode(TokenizerGolden.Cases("tok512")[0].Text, addSpecialTokens: false));

        // Without the model, the tokenizer.json itself is used; its vocabulary is empty, so nothing is encoded.
        File.Delete(dir.File("tokenizer.model"));
        tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.Equal("sentencepiece-json", tokenizer.Kind);
        Assert.Empty(tokenizer.Encode("ab", addSpecialTokens: false));
    }

    [Theory]
    [InlineData("model.dropout", "0.1", "'model.dropout' = \"0.1\"")]
    [InlineData("normalizer", """{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Precompiled","precompiled_charsmap":"AA=="}]}""", "'normalizer.normalizers[1].type' = \"Precompiled\"")]
    [InlineData("pre_tokenizer", """{"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes","split":true}""", "'pre_tokenizer.prepend_scheme' = \"sometimes\"")]
    [InlineData("pre_tokenizer", """{"type":"Whitespace"}""", "'pre_tokenizer.type' = \"Whitespace\"")]
    [InlineData("decoder", """{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"CTC"}]}""", "'decoder.decoders[1].type' = \"CTC\"")]
    [InlineData("decoder", """{"type":"Strip","content":"ab","start":1,"stop":0}""", "'decoder.content' must be one character")]
    [InlineData("model.continuing_subword_prefix", "\"##\"", "'model.continuing_subword_prefix' = \"##\"")]
    public void UnsupportedSentencePieceStyleComponentsNameTheKey(string key, string definition, string expectedInMessage)
    {
        var json = SyntheticTokenizerJson.SentencePieceStyle("\u2581ab", [("\u2581", "a")]);
        var parts = key.Split('.');
        var parent = parts.Length == 2 ? json[parts[0]]!.AsObject() : json;
        parent[parts[^1]] = JsonNode.Parse(definition);
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        var error = Assert.ThrowsAny<MixLoraException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.StartsWith(dir.File("tokenizer.json") + ":", error.Message);
        Assert.Contains(expectedInMessage, error.Message);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public void TruncatedSentencePieceModelIsAnInvalidFile(double keptFraction)
    {
        var bytes = File.ReadAllBytes(RepoPaths.Asset("stories260K", "tok512.model"));
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.model"), bytes[..(int)(bytes.Length * keptFraction)]);
        var error = Assert.Throws<InvalidFileException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.Equal(dir.File("tokenizer.model"), error.FilePath);
    }

    [Fact]
    public void GarbageSentencePieceModelIsAnInvalidFile()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.model"), [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        var error = Assert.Throws<InvalidFileException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.Contains("runs past the end", error.Message);
        File.WriteAllBytes(dir.File("tokenizer.model"), []);
        Assert.Throws<InvalidFileException>(() => TokenizerLoader.FromFolder(dir.Path));
    }

    [Fact]
    public void MalformedTokenizerConfigNamesTheFile()
    {
        using var dir = new TempDir();
        File.Copy(RepoPaths.Asset("stories260K", "tok512.model"), dir.File("tokenizer.model"));
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"bos_token": 5}""");
        var error = Assert.Throws<InvalidFileException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.Equal(dir.File("tokenizer_config.json"), error.FilePath);
        Assert.Contains("bos_token", error.Message);
    }

    [Fact]
    public void MissingFilesForFromFileAreClearErrors()
    {
        using var dir = new TempDir();
        Assert.Contains("not found", Assert.Throws<MixLoraException>(() => TokenizerLoader.FromFile(dir.File("tokenizer.model"))).Message);
        var config = dir.File("tokenizer_config.json");
        var error = Assert.Throws<MixLoraException>(() => TokenizerLoader.FromFile(RepoPaths.Asset("stories260K", "tok512.model"), config));
        Assert.Contains(config, error.Message);
    }
}
