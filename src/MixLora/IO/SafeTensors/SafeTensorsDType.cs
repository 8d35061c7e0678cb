namespace MixLora.IO;

/// <summary>
/// Element types a safetensors header can name (the header spells them exactly like these members).
/// U16, U32, U64 and the F8 types are read by <see cref="SafeTensorsFile.ReadHeader"/> but cannot be loaded,
/// because TorchSharp has no matching tensor type.
/// </summary>
public enum SafeTensorsDType
{
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
    U16,
    U32,
    U64,
    F8_E4M3,
    F8_E5M2,
}
