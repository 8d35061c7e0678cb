using System.Buffers.Binary;
using System.Text;

namespace MixLora.IO;

// Byte reading and stack handling: every read is bounds-checked against the pickle, every pop against the stack.
internal sealed partial class RestrictedUnpickler
{
    private byte ReadByte() => ReadSpan(1)[0];

    private ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(ReadSpan(2));

    private uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadSpan(4));

    private ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadSpan(8));

    private ulong ReadUInt64BigEndian() => BinaryPrimitives.ReadUInt64BigEndian(ReadSpan(8));

    private ReadOnlySpan<byte> ReadSpan(long count)
    {
        if (count > _data.Length - _position)
        {
            throw Fail($"{PickleOpcodes.Describe(_opcode)} needs {count} bytes but only {_data.Length - _position} remain (truncated)");
        }
        var span = _data.AsSpan(_position, (int)count);
        _position += (int)count;
        return span;
    }

    private string ReadUtf8(long byteCount)
    {
        var bytes = ReadSpan(byteCount);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidFileException(_filePath, $"a pickle string is not valid UTF-8 [{_entryName}, byte {_opcodeStart}]", e);
        }
    }

    /// <summary>One newline-terminated ASCII line of a GLOBAL opcode (module or name), length-limited.</summary>
    private string ReadLine()
    {
        var limit = Math.Min(_data.Length, _position + MaxGlobalPartLength + 1);
        var end = Array.IndexOf(_data, (byte)'\n', _position, limit - _position);
        if (end < 0) throw Fail("GLOBAL has no newline-terminated module/name within 256 bytes (truncated or corrupt)");
        var line = _data.AsSpan(_position, end - _position);
        foreach (var b in line)
        {
            if (b < 0x20 || b > 0x7e) throw Fail("GLOBAL names a module or attribute that is not printable ASCII");
        }
        _position = end + 1;
        return Encoding.ASCII.GetString(line);
    }

    /// <summary>LONG1: a little-endian two's complement integer of up to 8 bytes (longer is refused).</summary>
    private long ReadLong1()
    {
        var length = ReadByte();
        if (length > 8) throw Fail($"LONG1 integer of {length} bytes is too large");
        var bytes = ReadSpan(length);
        if (length == 0) return 0;
        long value = 0;
        for (var i = length - 1; i >= 0; i--) value = (value << 8) | bytes[i];
        var unusedBits = 64 - 8 * length;
        return unusedBits == 0 ? value : (value << unusedBits) >> unusedBits; // sign-extend
    }

    private void Push(object? value)
    {
        if (_stack.Count >= MaxStackValues) throw Fail($"more than {MaxStackValues} values on the pickle stack (not a tensor state dict)");
        _stack.Add(value);
    }

    private object? Pop()
    {
        if (_stack.Count == 0) throw Fail($"{PickleOpcodes.Describe(_opcode)} pops from an empty stack (truncated or corrupt)");
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object?[] PopMany(int count)
    {
        var values = new object?[count];
        for (var i = count - 1; i >= 0; i--) values[i] = Pop();
        return values;
    }

    private object? Peek() =>
        _stack.Count > 0 ? _stack[^1] : throw Fail($"{PickleOpcodes.Describe(_opcode)} needs a value on an empty stack (truncated or corrupt)");

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Fail($"{PickleOpcodes.Describe(_opcode)} has no matching MARK (corrupt)");
        var items = _stack;
        _stack = _marks.Pop();
        return items;
    }

    private PickleDict PeekDict() => Peek() as PickleDict
        ?? throw Fail($"{PickleOpcodes.Describe(_opcode)} applies to a {TypeName(Peek())}, expected a dict");

    private PickleList PeekList() => Peek() as PickleList
        ?? throw Fail($"{PickleOpcodes.Describe(_opcode)} applies to a {TypeName(Peek())}, expected a list");
}
