using System.Text;
using static MixLora.IO.PickleOpcodes;

namespace MixLora.IO;

/// <summary>
/// A pickle virtual machine that understands only what a torch.save tensor state dict needs.
/// It never imports or calls anything: GLOBAL yields an inert marker from an allow-list (checked from the two
/// strings before anything else happens), REDUCE is interpreted for those markers only, and every other opcode
/// is refused. All lengths and indices read from the data are checked before use.
/// </summary>
internal sealed partial class RestrictedUnpickler
{
    private const int MaxGlobalPartLength = 256;

    // torch.save pickles nest MARKs about 3 deep and hold at most a 1000-item batch (2000 values) on the stack;
    // these caps only stop a hostile pickle from turning each byte into a large allocation.
    private const int MaxMarkDepth = 100;
    private const int MaxStackValues = 100_000;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly string _filePath;
    private readonly string _entryName;
    private readonly byte[] _data;
    private readonly Func<string, (string EntryName, long Length)?> _findStorageEntry;

    private readonly Dictionary<uint, object?> _memo = [];
    private readonly Stack<List<object?>> _marks = new();
    private readonly Dictionary<string, StorageRecord> _storages = [];
    private List<object?> _stack = [];
    private int _position;
    private int _opcodeStart;
    private byte _opcode;

    /// <param name="filePath">The .bin file, for error messages.</param>
    /// <param name="entryName">The pickle's zip entry, for error messages.</param>
    /// <param name="data">The whole pickle.</param>
    /// <param name="findStorageEntry">Storage key → its zip entry name and byte length, or null when absent.</param>
    public RestrictedUnpickler(string filePath, string entryName, byte[] data,
        Func<string, (string EntryName, long Length)?> findStorageEntry)
    {
        _filePath = filePath;
        _entryName = entryName;
        _data = data;
        _findStorageEntry = findStorageEntry;
    }

    /// <summary>Runs the pickle to its STOP and returns the single value it leaves.</summary>
    public object? Load()
    {
        while (true)
        {
            if (_position >= _data.Length)
            {
                throw Fail("the pickle ends without a STOP opcode (truncated)");
            }
            _opcodeStart = _position;
            _opcode = _data[_position++];
            if (_opcode == Stop) return FinishStop();
            Execute(_opcode);
        }
    }

    private object? FinishStop()
    {
        var result = Pop();
        if (_stack.Count != 0 || _marks.Count != 0)
        {
            throw Fail("the pickle leaves unused values or an open MARK at STOP (corrupt)");
        }
        return result;
    }

    private void Execute(byte opcode)
    {
        switch (opcode)
        {
            case Proto:
                var version = ReadByte();
                if (version > 5) throw Fail($"unsupported pickle protocol {version}");
                break;
            case Frame:
                // Framing only groups opcodes for buffered reading; the length is a hint we just check.
                if (ReadUInt64() > (ulong)(_data.Length - _position)) throw Fail("a FRAME is longer than the pickle (truncated)");
                break;
            case Global: Push(LookUpGlobal(ReadLine(), ReadLine())); break;
            case StackGlobal:
                var name = Pop();
                var module = Pop();
                if (module is not string moduleText || name is not string nameText)
                {
                    throw Fail("STACK_GLOBAL needs two strings (module and name)");
                }
                Push(LookUpGlobal(moduleText, nameText));
                break;
            case EmptyTuple: Push(new PickleTuple([])); break;
            case PickleOpcodes.Tuple: Push(new PickleTuple(PopMark().ToArray())); break;
            case Tuple1: Push(new PickleTuple(PopMany(1))); break;
            case Tuple2: Push(new PickleTuple(PopMany(2))); break;
            case Tuple3: Push(new PickleTuple(PopMany(3))); break;
            case Mark:
                if (_marks.Count >= MaxMarkDepth) throw Fail($"MARKs are nested more than {MaxMarkDepth} deep (not a tensor state dict)");
                _marks.Push(_stack);
                _stack = [];
                break;
            case Reduce:
                var arguments = Pop();
                var callable = Pop();
                Push(ApplyReduce(callable, arguments));
                break;
            case BinPut: _memo[ReadByte()] = Peek(); break;
            case LongBinPut: _memo[ReadUInt32()] = Peek(); break;
            case Memoize: _memo[(uint)_memo.Count] = Peek(); break;
            case BinGet: Push(MemoGet(ReadByte())); break;
            case LongBinGet: Push(MemoGet(ReadUInt32())); break;
            case BinUnicode: Push(ReadUtf8(ReadUInt32())); break;
            case ShortBinUnicode: Push(ReadUtf8(ReadByte())); break;
            case BinInt: Push((long)(int)ReadUInt32()); break;
            case BinInt1: Push((long)ReadByte()); break;
            case BinInt2: Push((long)ReadUInt16()); break;
            case Long1: Push(ReadLong1()); break;
            case BinFloat: Push(BitConverter.Int64BitsToDouble((long)ReadUInt64BigEndian())); break;
            case NewFalse: Push(false); break;
            case NewTrue: Push(true); break;
            case PickleOpcodes.None: Push(null); break;
            case EmptyDict: Push(new PickleDict()); break;
            case EmptyList: Push(new PickleList()); break;
            case SetItem:
                var value = Pop();
                var key = Pop();
                PeekDict().Set(CheckKey(key), value);
                break;
            case SetItems: SetItemsFrom(PopMark()); break;
            case Append:
                var item = Pop();
                PeekList().Items.Add(item);
                break;
            case Appends:
                var items = PopMark();
                PeekList().Items.AddRange(items);
                break;
            case BinPersId: Push(ResolveStorage(Pop())); break;
            case Build: ApplyBuild(); break;
            default:
                throw IsKnown(opcode)
                    ? Fail($"pickle opcode {Describe(opcode)} is not allowed (only tensor state dicts are accepted)")
                    : Fail($"{Describe(opcode)} in the pickle (corrupt or not a torch.save file)");
        }
    }

    private object LookUpGlobal(string module, string name)
    {
        return TorchPickleGlobals.Find(module, name)
            ?? throw Fail($"pickle global {Printable(module)}.{Printable(name)} is not allowed (only tensor state dicts are accepted)");
    }

    private void SetItemsFrom(List<object?> items)
    {
        if (items.Count % 2 != 0) throw Fail("SETITEMS has an odd number of keys and values (corrupt)");
        var dict = PeekDict();
        for (var i = 0; i < items.Count; i += 2) dict.Set(CheckKey(items[i]), items[i + 1]);
    }

    /// <summary>
    /// BUILD is honoured only to attach attributes to a dict: nn.Module.state_dict() returns an OrderedDict with a
    /// <c>_metadata</c> attribute that torch.save keeps. The attributes are plain data and are ignored.
    /// </summary>
    private void ApplyBuild()
    {
        var state = Pop();
        if (Peek() is not PickleDict || state is not PickleDict)
        {
            throw Fail($"pickle opcode {Describe(Build)} is not allowed here (only attribute dicts on a dict are accepted)");
        }
    }

    private object CheckKey(object? key) => key is string or long or bool
        ? key
        : throw Fail($"a dict key of type {TypeName(key)} is not supported (expected a string)");

    private object? MemoGet(uint index) =>
        _memo.TryGetValue(index, out var value) ? value : throw Fail($"memo entry {index} is read before it is written (corrupt)");

    internal static string TypeName(object? value) => value switch
    {
        null => "None",
        string => "str",
        long => "int",
        bool => "bool",
        double => "float",
        PickleTuple => "tuple",
        PickleList => "list",
        PickleDict => "dict",
        PickleCallable callable => callable.QualifiedName,
        TorchStorageType type => "torch." + type.Name,
        StorageRecord => "storage",
        TensorRecord => "tensor",
        _ => value.GetType().Name,
    };

    /// <summary>Keeps attacker-chosen names short and printable in messages.</summary>
    private static string Printable(string text)
    {
        var shown = text.Length > 80 ? text[..80] + "…" : text;
        return string.Concat(shown.Select(c => char.IsControl(c) ? '?' : c));
    }

    private InvalidFileException Fail(string problem) =>
        new(_filePath, $"{problem} [{_entryName}, byte {_opcodeStart}]");
}
