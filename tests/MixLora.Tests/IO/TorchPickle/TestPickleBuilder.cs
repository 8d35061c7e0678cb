using System.Text;

namespace MixLora.Tests.IO;

/// <summary>Test helper: emits pickle opcodes by hand, to build both valid and hostile data.pkl files.</summary>
internal sealed class TestPickleBuilder
{
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => [.. _bytes];

    public TestPickleBuilder Op(params byte[] raw)
    {
        _bytes.AddRange(raw);
        return this;
    }

    public TestPickleBuilder Op(char opcode) => Op((byte)opcode);

    public TestPickleBuilder Proto2() => Op(0x80, 2);

    public TestPickleBuilder Global(string module, string name) => Op('c').Op(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    public TestPickleBuilder Unicode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return Op('X').Op(BitConverter.GetBytes((uint)bytes.Length)).Op(bytes);
    }

    public TestPickleBuilder Int(int value) => Op('J').Op(BitConverter.GetBytes(value));

    public TestPickleBuilder IntTuple(params long[] values)
    {
        Op('(');
        foreach (var value in values) Int(checked((int)value));
        return Op('t');
    }

    /// <summary>collections.OrderedDict() — the state dict itself or an empty backward-hooks dict.</summary>
    public TestPickleBuilder NewOrderedDict() => Global("collections", "OrderedDict").Op(')').Op('R');

    /// <summary>A _rebuild_tensor_v2 call over storage <paramref name="key"/> (pid: 'storage', type, key, 'cpu', numel).</summary>
    public TestPickleBuilder Tensor(string key, long storageElements, long offset, long[] size, long[] stride, string storageType = "FloatStorage")
    {
        Global("torch._utils", "_rebuild_tensor_v2").Op('(');
        Op('(').Unicode("storage").Global("torch", storageType).Unicode(key).Unicode("cpu").Int(checked((int)storageElements)).Op('t').Op('Q');
        Int(checked((int)offset)).IntTuple(size).IntTuple(stride).Op(0x89).NewOrderedDict();
        return Op('t').Op('R');
    }

    /// <summary>A whole state dict {name: tensor} with one SETITEMS, ending in STOP.</summary>
    public static byte[] StateDict(params (string Name, Action<TestPickleBuilder> WriteValue)[] items)
    {
        var builder = new TestPickleBuilder().Proto2().NewOrderedDict().Op('(');
        foreach (var (name, writeValue) in items)
        {
            builder.Unicode(name);
            writeValue(builder);
        }
        return builder.Op('u').Op('.').ToArray();
    }
}
