namespace Mds.Contracts.Inference;

/// <summary>The tensor datatypes of the Open Inference Protocol (KServe V2), as spelled on the wire.</summary>
public enum TensorDatatype
{
    /// <summary>Unknown or unsupported.</summary>
    Invalid = 0,
    /// <summary>BOOL</summary>
    Bool,
    /// <summary>UINT8</summary>
    UInt8,
    /// <summary>UINT16</summary>
    UInt16,
    /// <summary>UINT32</summary>
    UInt32,
    /// <summary>UINT64</summary>
    UInt64,
    /// <summary>INT8</summary>
    Int8,
    /// <summary>INT16</summary>
    Int16,
    /// <summary>INT32</summary>
    Int32,
    /// <summary>INT64</summary>
    Int64,
    /// <summary>FP16</summary>
    Fp16,
    /// <summary>FP32</summary>
    Fp32,
    /// <summary>FP64</summary>
    Fp64,
    /// <summary>BYTES (strings in JSON)</summary>
    Bytes,
    /// <summary>BF16 (bfloat16, as Triton spells it; elements are <see cref="BFloat16"/>)</summary>
    Bf16,
}

/// <summary>Wire names and CLR element types of <see cref="TensorDatatype"/>.</summary>
public static class TensorDatatypes
{
    /// <summary>Bytes per element on the wire and in memory; 0 for BYTES (variable).</summary>
    public static int ElementSize(this TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bool or TensorDatatype.UInt8 or TensorDatatype.Int8 => 1,
        TensorDatatype.UInt16 or TensorDatatype.Int16 or TensorDatatype.Fp16 or TensorDatatype.Bf16 => 2,
        TensorDatatype.UInt32 or TensorDatatype.Int32 or TensorDatatype.Fp32 => 4,
        TensorDatatype.UInt64 or TensorDatatype.Int64 or TensorDatatype.Fp64 => 8,
        _ => 0,
    };

    /// <summary>The protocol's spelling, e.g. <c>FP32</c>.</summary>
    public static string ToWireName(this TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bool => "BOOL",
        TensorDatatype.UInt8 => "UINT8",
        TensorDatatype.UInt16 => "UINT16",
        TensorDatatype.UInt32 => "UINT32",
        TensorDatatype.UInt64 => "UINT64",
        TensorDatatype.Int8 => "INT8",
        TensorDatatype.Int16 => "INT16",
        TensorDatatype.Int32 => "INT32",
        TensorDatatype.Int64 => "INT64",
        TensorDatatype.Fp16 => "FP16",
        TensorDatatype.Bf16 => "BF16",
        TensorDatatype.Fp32 => "FP32",
        TensorDatatype.Fp64 => "FP64",
        TensorDatatype.Bytes => "BYTES",
        _ => "INVALID",
    };

    /// <summary>Parses a wire name (case-sensitive, as the protocol specifies); <see cref="TensorDatatype.Invalid"/> if unknown.</summary>
    public static TensorDatatype Parse(ReadOnlySpan<char> name) => name switch
    {
        "BOOL" => TensorDatatype.Bool,
        "UINT8" => TensorDatatype.UInt8,
        "UINT16" => TensorDatatype.UInt16,
        "UINT32" => TensorDatatype.UInt32,
        "UINT64" => TensorDatatype.UInt64,
        "INT8" => TensorDatatype.Int8,
        "INT16" => TensorDatatype.Int16,
        "INT32" => TensorDatatype.Int32,
        "INT64" => TensorDatatype.Int64,
        "FP16" => TensorDatatype.Fp16,
        "BF16" => TensorDatatype.Bf16,
        "FP32" => TensorDatatype.Fp32,
        "FP64" => TensorDatatype.Fp64,
        "BYTES" => TensorDatatype.Bytes,
        _ => TensorDatatype.Invalid,
    };

    /// <summary>
    /// The CLR element type that holds this datatype's elements in a decoded tensor:
    /// bool, byte, ushort, uint, ulong, sbyte, short, int, long, Half, <see cref="BFloat16"/>, float, double, string.
    /// </summary>
    public static Type ElementType(this TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bool => typeof(bool),
        TensorDatatype.UInt8 => typeof(byte),
        TensorDatatype.UInt16 => typeof(ushort),
        TensorDatatype.UInt32 => typeof(uint),
        TensorDatatype.UInt64 => typeof(ulong),
        TensorDatatype.Int8 => typeof(sbyte),
        TensorDatatype.Int16 => typeof(short),
        TensorDatatype.Int32 => typeof(int),
        TensorDatatype.Int64 => typeof(long),
        TensorDatatype.Fp16 => typeof(Half),
        TensorDatatype.Bf16 => typeof(BFloat16),
        TensorDatatype.Fp32 => typeof(float),
        TensorDatatype.Fp64 => typeof(double),
        TensorDatatype.Bytes => typeof(string),
        _ => throw new ArgumentOutOfRangeException(nameof(datatype), datatype, "No element type for an invalid datatype."),
    };
}
