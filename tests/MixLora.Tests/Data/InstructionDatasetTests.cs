using MixLora.Data;
using MixLora.Tests.Support;

namespace MixLora.Tests.Data;

public class InstructionDatasetTests
{
    [Fact]
    public void LoadsTheMoePeftDummyData()
    {
        var data = InstructionDataset.Load(RepoPaths.Asset("instruct", "moe-peft_dummy_data.json"));
        Assert.Equal(64, data.Count);
        Assert.All(data.Records, r =>
        {
            Assert.Equal("Could you provide an introduction to MoE-PEFT?", r.Instruction);
            Assert.Equal("", r.Input);
            Assert.StartsWith("MoE-PEFT is an open-source LLMOps framework", r.Output);
            Assert.Null(r.Answer);
        });
    }

    [Fact]
    public void LoadsAlpacaRecordsWithAndWithoutInput()
    {
        var data = InstructionDataset.Load(RepoPaths.Asset("instruct", "alpaca_en_demo_first40.json"));
        Assert.Equal(40, data.Count);
        Assert.Equal("Describe a process of making crepes.", data.Records[0].Instruction);
        Assert.Equal(15, data.Records.Count(r => r.Input.Length > 0));
    }

    [Fact]
    public void LoadsLlmAdaptersRecordsWithAnswers()
    {
        var data = InstructionDataset.Load(RepoPaths.Asset("commonsense", "boolq", "train.json"), requireAnswer: true);
        Assert.Equal(20, data.Count);
        Assert.Equal(("the correct answer is true", "true"), (data.Records[0].Output, data.Records[0].Answer));
    }

    [Fact]
    public void LoadsJsonLinesEitherExtension()
    {
        using var dir = new TempDir();
        const string lines = "{\"instruction\": \"a\", \"output\": \"1\"}\n\n{\"instruction\": \"b\", \"input\": null, \"output\": \"2\", \"extra\": [1]}\n";
        File.WriteAllText(dir.File("d.jsonl"), lines);
        File.WriteAllText(dir.File("d.json"), lines);
        foreach (var name in new[] { "d.jsonl", "d.json" })
        {
            var data = InstructionDataset.Load(dir.File(name));
            Assert.Equal([new InstructionRecord("a", "", "1"), new InstructionRecord("b", "", "2")], data.Records);
        }
    }

    [Theory]
    [InlineData("d.json", "[{\"instruction\": \"a\", \"output\": \"\"},", "not valid JSON (line 1")]
    [InlineData("d.json", "[{\"instruction\": \"a\", \"output\": \"\"}, {\"output\": \"b\"}]", "record 1: missing field \"instruction\"")]
    [InlineData("d.json", "[{\"instruction\": \"a\", \"output\": 5}]", "record 0: field \"output\" must be a string, got a number")]
    [InlineData("d.json", "[{\"instruction\": \"\", \"output\": \"\"}]", "record 0: field \"instruction\" is empty")]
    [InlineData("d.json", "[\"text\"]", "record 0: expected an object with \"instruction\", got a string")]
    [InlineData("d.json", "[{\"instruction\": \"a\", \"output\": \"\"}, {\"instruction\": \"b\", \"response\": \"c\"}]",
        "record 1: missing field \"output\" (the response to train on; use \"\" for none); the record has \"instruction\", \"response\"")]
    [InlineData("d.json", "[]", "the dataset is empty")]
    [InlineData("d.json", "", "the file is empty")]
    [InlineData("d.jsonl", " \n\n ", "the file is empty")]
    [InlineData("d.json", "{\"train\": [{\"instruction\": \"a\", \"output\": \"b\"}]}", "holds a single JSON object (keys: \"train\"); expected a JSON array of records")]
    [InlineData("d.json", "{\n  \"instruction\": \"a\",\n  \"output\": \"b\"\n}\n", "holds a single JSON object (keys: \"instruction\", \"output\")")]
    [InlineData("d.jsonl", "{\"instruction\": \"a\", \"output\": \"\"}\n{\"instruction\": \"b\"", "line 2 (record 1): not a valid JSON object")]
    [InlineData("d.jsonl", "{\"instruction\": \"a\", \"output\": \"\"}\n\n7\n", "line 3 (record 1): expected an object")]
    [InlineData("d.txt", "[{\"instruction\": \"a\"}]", "unsupported data file")]
    public void MalformedFilesNameTheFileAndRecord(string name, string content, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File(name);
        File.WriteAllText(path, content);
        var e = Assert.Throws<InvalidFileException>(() => InstructionDataset.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TaskFilesNeedAnAnswer()
    {
        using var dir = new TempDir();
        var path = dir.File("t.json");
        File.WriteAllText(path, "[{\"instruction\": \"q\", \"input\": \"\", \"output\": \"the correct answer is true\"}]");
        Assert.Contains("record 0: missing field \"answer\"", Assert.Throws<InvalidFileException>(() => InstructionDataset.Load(path, requireAnswer: true)).Message);
        Assert.Equal("data file not found", Assert.Throws<InvalidFileException>(() => InstructionDataset.Load(dir.File("none.json"))).Message.Split(": ")[^1]);
    }

    [Fact]
    public void OneLineRecordIsAOneRecordDataset()
    {
        using var dir = new TempDir();
        var path = dir.File("one.json");
        File.WriteAllText(path, "{\"instruction\": \"a\", \"output\": null}\n");
        Assert.Equal([new InstructionRecord("a", "", "")], InstructionDataset.Load(path).Records);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFE, (byte)'[', 0 }, "invalid byte 0xFF at line 1, byte 1 (it looks like UTF-16; save it as UTF-8)")]
    [InlineData(new byte[] { (byte)'[', (byte)'\n', (byte)'{', (byte)'"', 0xE9, (byte)'"' }, "invalid byte 0xE9 at line 2, byte 3")]
    public void NonUtf8BytesAreAnErrorWithTheLine(byte[] head, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("latin1.json");
        var tail = "\"instruction\": \"x\", \"output\": \"y\"}]"u8.ToArray();
        File.WriteAllBytes(path, [.. head, .. tail]);
        var e = Assert.Throws<InvalidFileException>(() => InstructionDataset.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains("not UTF-8 text: " + expected, e.Message);
    }

    [Fact]
    public void ByteOrderMarkIsDropped()
    {
        using var dir = new TempDir();
        var path = dir.File("bom.jsonl");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "{\"instruction\": \"a\", \"output\": \"b\"}"u8.ToArray()]);
        Assert.Equal([new InstructionRecord("a", "", "b")], InstructionDataset.Load(path).Records);
    }
}
