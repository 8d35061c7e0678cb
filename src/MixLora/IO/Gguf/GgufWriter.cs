using System.Collections;
using System.Text;
using static TorchSharp.torch;

namespace MixLora.IO.Gguf;

/// <summary>
/// Writes GGUF v3 files: metadata in the given order, then the tensor directory and the aligned tensor data (F32, F16
/// or Q8_0, chosen per tensor). A torch tensor [d0, …, dn] is stored with ggml dims [dn, …, d0] (innermost first), its
/// element order unchanged.
/// </summary>
public static class GgufWriter
{
    private const uint Alignment = 32;

    /// <summary>Writes every tensor as <paramref name="type"/> (F32 or F16).</summary>
    /// <param name="metadata">Keys and values: string, bool, byte, int, uint, long, ulong, float, double, or a list of one of these.</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, object>> metadata, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        GgmlType type = GgmlType.F32)
    {
        if (type is not (GgmlType.F32 or GgmlType.F16)) throw new MixLoraException($"this GGUF writer overload stores F32 or F16 tensors, not {type}");
        Write(path, metadata, tensors.Select(t => new GgufTensorData(t.Key, t.Value, type)));
    }

    /// <summary>Writes each tensor in its own type (F32, F16, or Q8_0 when its innermost dimension is a multiple of 32).</summary>
    /// <param name="metadata">Keys and values: string, bool, byte, int, uint, long, ulong, float, double, or a list of one of these.</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, object>> metadata, IEnumerable<GgufTensorData> tensors)
    {
        var kvs = metadata.ToList();
        var items = tensors.ToList();
        foreach (var item in items) CheckStorable(item);
        AtomicFile.Write(path, temp =>
        {
            using var stream = File.Create(temp);
            using var w = new BinaryWriter(stream, Encoding.UTF8);
            w.Write(0x46554747u);
            w.Write(3u);
            w.Write((ulong)items.Count);
            w.Write((ulong)kvs.Count);
            foreach (var (key, value) in kvs)
            {
                WriteString(w, key);
                WriteValue(w, value, key);
            }
            ulong offset = 0;
            foreach (var (name, tensor, type) in items)
            {
                WriteString(w, name);
                var dims = tensor.shape.Reverse().ToArray();
                w.Write((uint)dims.Length);
                foreach (var d in dims) w.Write((ulong)d);
                w.Write((uint)type);
                w.Write(offset);
                offset = GgufReader.AlignUp(offset + ByteSize(tensor, type), Alignment);
            }
            Pad(w);
            // Encoded one at a time: only one tensor's bytes are held besides the model.
            foreach (var (_, tensor, type) in items)
            {
                w.Write(Encode(tensor, type));
                Pad(w);
            }
        });
    }

    private static void CheckStorable(GgufTensorData item)
    {
        if (item.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.Q8_0))
            throw new MixLoraException($"GGUF tensor \"{item.Name}\": the writer stores F32, F16 or Q8_0, not {item.Type}");
        if (item.Tensor.dim() is 0 or > 4) throw new MixLoraException($"GGUF tensor \"{item.Name}\": {item.Tensor.dim()} dimensions (1 to 4 can be stored)");
        if (item.Type == GgmlType.Q8_0 && item.Tensor.shape[^1] % Q8_0.BlockElements != 0)
            throw new MixLoraException($"GGUF tensor \"{item.Name}\": rows of {item.Tensor.shape[^1]} values are not whole Q8_0 blocks of {Q8_0.BlockElements}");
    }

    private static ulong ByteSize(Tensor tensor, GgmlType type)
    {
        var (perBlock, blockBytes) = GgmlTypes.Block(type)!.Value;
        return (ulong)tensor.numel() / (ulong)perBlock * (ulong)blockBytes;
    }

    private static byte[] Encode(Tensor tensor, GgmlType type)
    {
        if (type == GgmlType.Q8_0)
        {
            using var values = tensor.detach().to(ScalarType.Float32).cpu().contiguous();
            return Q8_0.Quantize(values.data<float>().ToArray());
        }
        using var stored = tensor.detach().to(type == GgmlType.F32 ? ScalarType.Float32 : ScalarType.Float16).cpu().contiguous();
        return stored.bytes.ToArray();
    }

    private static void Pad(BinaryWriter w)
    {
        long position = w.BaseStream.Position;
        long padded = (long)GgufReader.AlignUp((ulong)position, Alignment);
        for (long i = position; i < padded; i++) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, object value, string key)
    {
        if (value is not string && value is IEnumerable list)
        {
            var elements = list.Cast<object>().ToList();
            w.Write((uint)GgufValueType.Array);
            w.Write((uint)TypeOf(elements.FirstOrDefault() ?? "", key));
            w.Write((ulong)elements.Count);
            foreach (var e in elements) WriteScalar(w, e, key);
            return;
        }
        w.Write((uint)TypeOf(value, key));
        WriteScalar(w, value, key);
    }

    private static GgufValueType TypeOf(object value, string key) => value switch
    {
        string => GgufValueType.String, bool => GgufValueType.Bool, byte => GgufValueType.UInt8, int => GgufValueType.Int32,
        uint => GgufValueType.UInt32, long => GgufValueType.Int64, ulong => GgufValueType.UInt64, float => GgufValueType.Float32,
        double => GgufValueType.Float64,
        _ => throw new MixLoraException($"GGUF metadata \"{key}\": cannot store a {value.GetType().Name}"),
    };

    private static void WriteScalar(BinaryWriter w, object value, string key)
    {
        switch (value)
        {
            case string s: WriteString(w, s); break;
            case bool b: w.Write((byte)(b ? 1 : 0)); break;
            case byte b: w.Write(b); break;
            case int i: w.Write(i); break;
            case uint u: w.Write(u); break;
            case long l: w.Write(l); break;
            case ulong u: w.Write(u); break;
            case float f: w.Write(f); break;
            case double d: w.Write(d); break;
            default: throw new MixLoraException($"GGUF metadata \"{key}\": cannot store a {value.GetType().Name}");
        }
    }
}

/// <summary>One tensor to write: its GGUF name, its values (any float type, torch dim order) and the type to store it as.</summary>
public sealed record GgufTensorData(string Name, Tensor Tensor, GgmlType Type);
