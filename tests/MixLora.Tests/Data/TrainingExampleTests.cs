using MixLora.Data;
using MixLora.Tokenization;
using MixLora.Tests.Support;

namespace MixLora.Tests.Data;

/// <summary>Tokenisation and label masks with the stories260K tokenizer (BOS 1, EOS 2).</summary>
public class TrainingExampleTests
{
    private static readonly Lazy<ITextTokenizer> Tok = new(() => TokenizerLoader.FromFolder(RepoPaths.Asset("stories260K-hf")));
    private static readonly TrainingText Text = PromptTemplate.MoePeft.Render("Tell a story about a cat.", "", "Once upon a time, there was a cat.");

    [Fact]
    public void TrainOnInputsMarksEveryToken()
    {
        var tok = Tok.Value;
        var example = TrainingExample.Encode(tok, Text, 512, addEos: false, trainOnInputs: true);
        Assert.Equal(tok.Encode(Text.Full), example.InputIds);
        Assert.Equal(1, example.InputIds[0]); // BOS, as the tokenizer adds it
        Assert.NotEqual(2, example.InputIds[^1]); // no EOS unless asked
        Assert.All(example.LabelMask, m => Assert.Equal(1, m));
        Assert.Equal(example.Length, example.TargetCount);
    }

    [Fact]
    public void ResponseOnlyMasksThePromptTokens()
    {
        var tok = Tok.Value;
        var promptIds = tok.Encode(Text.Prompt);
        var example = TrainingExample.Encode(tok, Text.Prompt, Text.Full, 512, addEos: false, trainOnInputs: false);

        Assert.Equal(promptIds, example.InputIds.Take(promptIds.Count)); // the prompt tokenises the same inside the full text
        Assert.All(example.LabelMask.Take(promptIds.Count), m => Assert.Equal(0, m));
        Assert.All(example.LabelMask.Skip(promptIds.Count), m => Assert.Equal(1, m));
        Assert.Equal(example.Length - promptIds.Count, example.TargetCount);
        Assert.True(example.TargetCount > 5);
        // The unmasked tokens decode to the response.
        Assert.Equal("Once upon a time, there was a cat.\n", tok.Decode(example.InputIds.Skip(promptIds.Count)));
    }

    [Fact]
    public void AddEosAppendsATargetEos()
    {
        var tok = Tok.Value;
        var plain = TrainingExample.Encode(tok, Text, 512, addEos: false, trainOnInputs: false);
        var withEos = TrainingExample.Encode(tok, Text, 512, addEos: true, trainOnInputs: false);
        Assert.Equal([.. plain.InputIds, 2], withEos.InputIds);
        Assert.Equal([.. plain.LabelMask, 1], withEos.LabelMask);
    }

    [Fact]
    public void CutoffKeepsTheHeadAndDropsEosOfTruncatedTexts()
    {
        var tok = Tok.Value;
        var full = TrainingExample.Encode(tok, Text, 512, addEos: true, trainOnInputs: false);
        var cut = TrainingExample.Encode(tok, Text, 10, addEos: true, trainOnInputs: false);
        Assert.Equal(full.InputIds.Take(10), cut.InputIds);
        Assert.Equal(full.LabelMask.Take(10), cut.LabelMask);
        Assert.DoesNotContain(2, cut.InputIds);

        // Exactly long enough for the text plus EOS: EOS survives.
        var fit = TrainingExample.Encode(tok, Text, full.Length, addEos: true, trainOnInputs: true);
        Assert.Equal(2, fit.InputIds[^1]);
        Assert.NotEqual(2, TrainingExample.Encode(tok, Text, full.Length - 1, addEos: true, trainOnInputs: true).InputIds[^1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingExample.Encode(tok, Text, 0, false, true));
    }

    [Fact]
    public void PromptWithoutResponseHasNoTargetsUnlessEos()
    {
        var tok = Tok.Value;
        var text = PromptTemplate.MoePeft.Render("Only a prompt.", "");
        Assert.Equal(0, TrainingExample.Encode(tok, text, 512, addEos: false, trainOnInputs: false).TargetCount);
        var withEos = TrainingExample.Encode(tok, text, 512, addEos: true, trainOnInputs: false);
        Assert.Equal(1, withEos.TargetCount);
        Assert.Equal(1, withEos.LabelMask[^1]);
    }

    [Fact]
    public void EncodeAllKeepsTheOrder()
    {
        var tok = Tok.Value;
        var texts = TrainingData.Load(new MixLora.Config.AdapterTrainingConfig { Name = "a", Data = "instruct/alpaca_en_demo_first40.json", Lr = 1, BatchSize = 1, NumEpochs = 1 }, RepoPaths.Asset());
        var examples = TrainingExample.EncodeAll(tok, texts, 64, addEos: true, trainOnInputs: false);
        Assert.Equal(texts.Count, examples.Count);
        Assert.All(examples, e => Assert.InRange(e.Length, 1, 64));
        Assert.Equal(TrainingExample.Encode(tok, texts[7], 64, true, false).InputIds, examples[7].InputIds);
    }
}
