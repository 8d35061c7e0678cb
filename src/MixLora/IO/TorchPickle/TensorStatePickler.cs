using System.Buffers.Binary;
using System.Text;
using static MixLora.IO.PickleOpcodes;

namespace MixLora.IO;

/// <summary>One tensor as torch.save describes it: its own storage, read from offset 0 with contiguous strides.</summary>
internal sealed record PickledTensor(string Name, string StorageTypeName, string StorageKey, long StorageElementCount, long[] Size, long[] Stride);

/// <summary>
/// Writes the data.pkl of <c>torch.save(OrderedDict)</c> with the opcodes and memo numbering Python's pickler
/// (protocol 2) produces for it: globals, the strings 'storage' and 'cpu' and storage types are memoized once
/// and fetched with BINGET afterwards; every other tuple, string and object gets a fresh memo slot.
/// </summary>
internal sealed class TensorStatePickler
{
    private const int ItemsPerSetItems = 1000; // Python's pickler batches dict items by 1000

    private readonly MemoryStream _out = new();
    private readonly Dictionary<string, uint> _memoized = new(StringComparer.Ordinal); // shared objects → memo slot
    private uint _nextMemo;

    public static byte[] Write(IReadOnlyList<PickledTensor> tensors)
    {
        var pickler = new TensorStatePickler();
        pickler.WriteStateDict(tensors);
        return pickler._out.ToArray();
    }

    private void WriteStateDict(IReadOnlyList<PickledTensor> tensors)
    {
        _out.WriteByte(Proto);
        _out.WriteByte(2);
        WriteOrderedDictCall();
        for (var start = 0; start < tensors.Count; start += ItemsPerSetItems)
        {
            var count = Math.Min(ItemsPerSetItems, tensors.Count - start);
            if (count > 1) _out.WriteByte(Mark);
            for (var i = start; i < start + count; i++)
            {
                WriteString(tensors[i].Name);
                Put();
                WriteTensor(tensors[i]);
            }
            _out.WriteByte(count > 1 ? SetItems : SetItem);
        }
        _out.WriteByte(Stop);
    }

    /// <summary>REDUCE(_rebuild_tensor_v2, (storage pid, offset, size, stride, False, OrderedDict())).</summary>
    private void WriteTensor(PickledTensor tensor)
    {
        WriteSharedGlobal("torch._utils", "_rebuild_tensor_v2");
        _out.WriteByte(Mark);
        _out.WriteByte(Mark);
        WriteSharedString("storage");
        WriteSharedGlobal("torch", tensor.StorageTypeName);
        WriteString(tensor.StorageKey);
        Put();
        WriteSharedString("cpu");
        WriteInt(tensor.StorageElementCount);
        _out.WriteByte(PickleOpcodes.Tuple);
        Put();
        _out.WriteByte(BinPersId);
        WriteInt(0);
        WriteIntTuple(tensor.Size);
        WriteIntTuple(tensor.Stride);
        _out.WriteByte(NewFalse);
        WriteOrderedDictCall(); // backward hooks
        _out.WriteByte(PickleOpcodes.Tuple);
        Put();
        _out.WriteByte(Reduce);
        Put();
    }

    private void WriteOrderedDictCall()
    {
        WriteSharedGlobal("collections", "OrderedDict");
        _out.WriteByte(EmptyTuple);
        _out.WriteByte(Reduce);
        Put();
    }

    private void WriteSharedGlobal(string module, string name)
    {
        if (Get("global:" + module + "." + name)) return;
        _out.WriteByte(Global);
        _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
        Put("global:" + module + "." + name);
    }

    private void WriteSharedString(string text)
    {
        if (Get("str:" + text)) return;
        WriteString(text);
        Put("str:" + text);
    }

    private void WriteString(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        _out.WriteByte(BinUnicode);
        WriteUInt32((uint)bytes.Length);
        _out.Write(bytes);
    }

    /// <summary>Python's tuple encoding: () unmemoized, 1-3 items as TUPLE1/2/3, longer with MARK … TUPLE.</summary>
    private void WriteIntTuple(long[] values)
    {
        if (values.Length == 0)
        {
            _out.WriteByte(EmptyTuple);
            return;
        }
        if (values.Length > 3) _out.WriteByte(Mark);
        foreach (var value in values) WriteInt(value);
        _out.WriteByte(values.Length switch { 1 => Tuple1, 2 => Tuple2, 3 => Tuple3, _ => PickleOpcodes.Tuple });
        Put();
    }

    /// <summary>Python's int encoding: BININT1 / BININT2 for small non-negative, BININT for int32, else LONG1.</summary>
    private void WriteInt(long value)
    {
        if (value is >= 0 and <= 0xff)
        {
            _out.WriteByte(BinInt1);
            _out.WriteByte((byte)value);
        }
        else if (value is >= 0 and <= 0xffff)
        {
            _out.WriteByte(BinInt2);
            _out.WriteByte((byte)value);
            _out.WriteByte((byte)(value >> 8));
        }
        else if (value is >= int.MinValue and <= int.MaxValue)
        {
            _out.WriteByte(BinInt);
            WriteUInt32((uint)(int)value);
        }
        else
        {
            // Shortest little-endian two's complement (Python's encode_long) of an int beyond 32 bits.
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            var length = 8;
            while (length > 1 && ((bytes[length - 1] == 0 && bytes[length - 2] < 0x80) || (bytes[length - 1] == 0xff && bytes[length - 2] >= 0x80)))
            {
                length--;
            }
            _out.WriteByte(Long1);
            _out.WriteByte((byte)length);
            _out.Write(bytes[..length]);
        }
    }

    /// <summary>Memoizes the value just written, under a name when later writes should fetch it again.</summary>
    private void Put(string? sharedName = null)
    {
        var slot = _nextMemo++;
        if (sharedName != null) _memoized[sharedName] = slot;
        if (slot <= 0xff)
        {
            _out.WriteByte(BinPut);
            _out.WriteByte((byte)slot);
        }
        else
        {
            _out.WriteByte(LongBinPut);
            WriteUInt32(slot);
        }
    }

    private bool Get(string sharedName)
    {
        if (!_memoized.TryGetValue(sharedName, out var slot)) return false;
        if (slot <= 0xff)
        {
            _out.WriteByte(BinGet);
            _out.WriteByte((byte)slot);
        }
        else
        {
            _out.WriteByte(LongBinGet);
            WriteUInt32(slot);
        }
        return true;
    }

    private void WriteUInt32(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        _out.Write(bytes);
    }
}
