using MixLora.Evaluation;
using MixLora.Tests.Support;
using MixLora.Tokenization;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>Candidate token ids with the real Llama-2 vocabulary (spec §8.4: last id of " " + label).</summary>
public class CandidateTokenIdTests
{
    private static readonly Lazy<ITextTokenizer> Llama2 = new(() => TokenizerLoader.FromFolder(RepoPaths.Asset("tokenizers", "llama2")));

    private static EvaluationTaskData Original(string task, string line)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("d.jsonl"), line);
        return EvaluationTasks.Load(task, dir.File("d.jsonl"));
    }

    [Fact]
    public void ReferenceLettersAreWordInitialPieces()
    {
        var arc = Original("arc-c", """{"question": "q", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "A"}""");
        var ids = arc.CandidateTokenIds(Llama2.Value);
        Assert.Equal(319, ids[4]); // " A" → "▁A"
        Assert.Equal(9, ids.Distinct().Count());
        // Llama-2 splits digits and has no "▁1" piece: " 1" is "▁" + "1", and the last id is the bare digit.
        Assert.Equal(["1", "2", "3", "4", "▁A", "▁B", "▁C", "▁D", "▁E"], ids.Select(id => Llama2.Value.IdToToken(id)));
    }

    [Fact]
    public void TrueAndFalseHaveTheirOwnWordIds()
    {
        var boolq = Original("boolq", """{"question": "q", "answer": true}""");
        var ids = boolq.CandidateTokenIds(Llama2.Value);
        Assert.Equal("true", Llama2.Value.Decode([ids[0]]));
        Assert.Equal("false", Llama2.Value.Decode([ids[1]]));
        Assert.NotEqual(ids[0], ids[1]);
        // The dummy prefix plus the leading space give a lone "▁" (29871) before the word-initial piece; the last id skips it.
        Assert.Equal([Llama2.Value.BosId!.Value, 29871, ids[0]], Llama2.Value.Encode(" true"));
        Assert.Equal("▁true", Llama2.Value.IdToToken(ids[0]));
        Assert.Equal("▁false", Llama2.Value.IdToToken(ids[1]));
    }

    [Fact]
    public void LlmAdaptersAnswerDigitsAreFiveDistinctIds()
    {
        var arc = EvaluationTasks.Load("arc-e", RepoPaths.Asset("commonsense"));
        var ids = arc.CandidateTokenIds(Llama2.Value);
        Assert.Equal(5, ids.Distinct().Count());
        Assert.Equal(["1", "2", "3", "4", "5"], ids.Select(id => Llama2.Value.Decode([id])));
    }
}
