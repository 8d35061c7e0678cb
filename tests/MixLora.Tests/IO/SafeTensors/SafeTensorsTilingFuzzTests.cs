using System.Text;
using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>
/// Random damage to a valid file's data buffer or offsets: bytes inserted or deleted anywhere in the data, or one
/// data offset moved. Every damaged file must be rejected (the tensors must tile the data buffer exactly), never
/// loaded with shifted values.
/// </summary>
public class SafeTensorsTilingFuzzTests
{
    private static readonly (string Name, string DType, long[] Shape, int Bytes)[] Tensors =
        [("a", "F32", [2, 3], 24), ("b", "I64", [2], 16), ("c", "F16", [5], 10), ("d", "U8", [3], 3)];

    /// <summary>Tensor i at [begins[i], begins[i] + its size + endDelta[i]).</summary>
    private static string Header(long[] begins, long[]? endDeltas = null)
    {
        var entries = Tensors.Select((t, i) =>
            $"\"{t.Name}\":{{\"dtype\":\"{t.DType}\",\"shape\":[{string.Join(",", t.Shape)}]," +
            $"\"data_offsets\":[{begins[i]},{begins[i] + t.Bytes + (endDeltas?[i] ?? 0)}]}}");
        return "{" + string.Join(",", entries) + "}";
    }

    /// <summary>Where each tensor begins in a valid file (back to back from 0).</summary>
    private static long[] ValidBegins()
    {
        var begins = new long[Tensors.Length];
        for (int i = 1; i < Tensors.Length; i++) begins[i] = begins[i - 1] + Tensors[i - 1].Bytes;
        return begins;
    }

    [Fact]
    public void EveryDamagedFileIsRejected()
    {
        using var dir = new TempDir();
        var random = new Random(20261207);
        var begins = ValidBegins();
        int dataLength = Tensors.Sum(t => t.Bytes);
        var data = new byte[dataLength];
        random.NextBytes(data);
        string valid = dir.File("valid.safetensors");
        SafeTensorsTestFiles.Write(valid, Encoding.UTF8.GetBytes(Header(begins)), data);
        using (var scope = torch.NewDisposeScope()) Assert.Equal(Tensors.Length, SafeTensorsFile.Load(valid).Count);

        for (int trial = 0; trial < 80; trial++)
        {
            string path = dir.File($"damaged-{trial}.safetensors");
            var newBegins = (long[])begins.Clone();
            var endDeltas = new long[Tensors.Length];
            byte[] newData = data;
            int count = random.Next(1, 9);
            switch (trial % 4)
            {
                case 0: // bytes inserted anywhere in the data, header unchanged
                    newData = Insert(data, random.Next(dataLength + 1), count, random);
                    break;
                case 1: // bytes inserted before a tensor, which moves with its data: a gap between tensors
                {
                    int moved = random.Next(1, Tensors.Length);
                    newData = Insert(data, (int)begins[moved], count, random);
                    for (int i = moved; i < Tensors.Length; i++) newBegins[i] += count;
                    break;
                }
                case 2: // bytes deleted
                {
                    int at = random.Next(dataLength);
                    count = Math.Min(count, dataLength - at);
                    newData = data.Take(at).Concat(data.Skip(at + count)).ToArray();
                    break;
                }
                default: // one tensor's begin or end offset moved
                {
                    int which = random.Next(Tensors.Length);
                    int delta = count * (random.Next(2) == 0 ? -1 : 1);
                    if (random.Next(2) == 0) newBegins[which] = Math.Max(0, newBegins[which] + delta);
                    else endDeltas[which] = delta;
                    if (newBegins[which] == begins[which] && endDeltas[which] == 0) endDeltas[which] = 1; // a clamp undid the edit
                    break;
                }
            }
            SafeTensorsTestFiles.Write(path, Encoding.UTF8.GetBytes(Header(newBegins, endDeltas)), newData);
            AssertRejected(path, trial);
        }
    }

    private static byte[] Insert(byte[] data, int at, int count, Random random)
    {
        var extra = new byte[count];
        random.NextBytes(extra);
        return data.Take(at).Concat(extra).Concat(data.Skip(at)).ToArray();
    }

    private static void AssertRejected(string path, int trial)
    {
        using var scope = torch.NewDisposeScope();
        var error = Record.Exception(() => SafeTensorsFile.Load(path));
        Assert.True(error is InvalidFileException, $"trial {trial}: damaged file was {(error is null ? "accepted" : $"rejected with {error.GetType().Name}")}");
        Assert.Contains(Path.GetFileName(path), error!.Message);
    }
}
