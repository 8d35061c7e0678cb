using System.Buffers.Binary;
using System.Text;

namespace MixLora.Tests.IO;

/// <summary>
/// Test helper: splits a protocol-2 pickle into (opcode, argument) pairs, for the opcodes torch.save uses.
/// Independent of the product's unpickler so that structure tests compare against the golden file honestly.
/// </summary>
internal static class PickleDisassembler
{
    public sealed record Instruction(byte Opcode, string Argument);

    public static List<Instruction> Disassemble(byte[] pickle)
    {
        var result = new List<Instruction>();
        var i = 0;
        while (i < pickle.Length)
        {
            var op = pickle[i++];
            string argument;
            switch ((char)op)
            {
                case 'c':
                    var first = Array.IndexOf(pickle, (byte)'\n', i);
                    var second = Array.IndexOf(pickle, (byte)'\n', first + 1);
                    argument = Encoding.ASCII.GetString(pickle, i, second - i).Replace('\n', ' ');
                    i = second + 1;
                    break;
                case 'X':
                    var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(pickle.AsSpan(i));
                    argument = Encoding.UTF8.GetString(pickle, i + 4, length);
                    i += 4 + length;
                    break;
                case 'q' or 'h' or 'K':
                    argument = pickle[i++].ToString();
                    break;
                case 'r' or 'j' or 'J':
                    argument = BinaryPrimitives.ReadInt32LittleEndian(pickle.AsSpan(i)).ToString();
                    i += 4;
                    break;
                case 'M':
                    argument = BinaryPrimitives.ReadUInt16LittleEndian(pickle.AsSpan(i)).ToString();
                    i += 2;
                    break;
                default:
                    if (op == 0x80) argument = pickle[i++].ToString();
                    else if ("().tRQu}s".Contains((char)op) || op is 0x85 or 0x86 or 0x87 or 0x88 or 0x89) argument = "";
                    else throw new InvalidDataException($"test disassembler: opcode 0x{op:x2} at {i - 1} not handled");
                    break;
            }
            result.Add(new Instruction(op, argument));
        }
        return result;
    }

    /// <summary>The opcode kinds only, with BINPUT/LONG_BINPUT and BINGET/LONG_BINGET folded together.</summary>
    public static string OpcodeKinds(byte[] pickle) => string.Join(" ", Disassemble(pickle).Select(ins => ins.Opcode switch
    {
        (byte)'q' or (byte)'r' => "PUT",
        (byte)'h' or (byte)'j' => "GET",
        var op => ((char)op).ToString(),
    }));
}
