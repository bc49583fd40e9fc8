using System.Globalization;
using System.Runtime.InteropServices;

namespace Mds.Contracts.Inference;

/// <summary>
/// A bfloat16 number, the element of a <see cref="TensorDatatype.Bf16"/> tensor: the upper 16 bits of an IEEE 754
/// binary32 (sign, 8 exponent bits, 7 fraction bits), so it has float's range with about three significant digits.
/// The layout is ONNX Runtime's <c>BFloat16</c> too, so arrays of it are reinterpreted, not converted.
/// Conversion from <see cref="float"/> and <see cref="double"/> rounds to the nearest (ties to even) and keeps NaN a
/// NaN; conversion to <see cref="float"/> is exact. Equality compares bits (so 0 and -0 differ), except that every NaN
/// equals every NaN.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BFloat16 : IEquatable<BFloat16>, ISpanFormattable, IUtf8SpanFormattable
{
    private const ushort SignMask = 0x8000;
    private const ushort ExponentMask = 0x7F80;

    private readonly ushort _bits;

    private BFloat16(ushort bits) => _bits = bits;

    /// <summary>The 16 bits (sign, exponent, fraction), as they travel on the wire (little-endian).</summary>
    public ushort Bits => _bits;

    /// <summary>Positive zero.</summary>
    public static BFloat16 Zero => default;

    /// <summary>One.</summary>
    public static BFloat16 One => new(0x3F80);

    /// <summary>The largest finite value, about 3.39e38.</summary>
    public static BFloat16 MaxValue => new(0x7F7F);

    /// <summary>The most negative finite value, about -3.39e38.</summary>
    public static BFloat16 MinValue => new(0xFF7F);

    /// <summary>The smallest positive value (a subnormal), 2^-133, about 9.2e-41.</summary>
    public static BFloat16 Epsilon => new(0x0001);

    /// <summary>Positive infinity.</summary>
    public static BFloat16 PositiveInfinity => new(ExponentMask);

    /// <summary>Negative infinity.</summary>
    public static BFloat16 NegativeInfinity => new(SignMask | ExponentMask);

    /// <summary>A quiet NaN.</summary>
    public static BFloat16 NaN => new(0x7FC0);

    /// <summary>The value whose bits are <paramref name="bits"/>.</summary>
    /// <param name="bits">Sign, exponent and fraction, as in <see cref="Bits"/>.</param>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>Whether <paramref name="value"/> is a NaN.</summary>
    /// <param name="value">The value to test.</param>
    public static bool IsNaN(BFloat16 value) => (value._bits & 0x7FFF) > ExponentMask;

    /// <summary>Whether <paramref name="value"/> is neither infinite nor NaN.</summary>
    /// <param name="value">The value to test.</param>
    public static bool IsFinite(BFloat16 value) => (value._bits & ExponentMask) != ExponentMask;

    /// <summary>Rounds <paramref name="value"/> to the nearest BF16, ties to even; NaN stays NaN.</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator BFloat16(float value) => FromSingle(value);

    /// <summary>Rounds <paramref name="value"/> to the nearest BF16 (once, not through float), ties to even; NaN stays NaN.</summary>
    /// <param name="value">The value to convert.</param>
    public static explicit operator BFloat16(double value) => FromDouble(value);

    /// <summary>The exact float.</summary>
    /// <param name="value">The value to convert.</param>
    public static implicit operator float(BFloat16 value) => value.ToSingle();

    /// <summary>The exact double.</summary>
    /// <param name="value">The value to convert.</param>
    public static implicit operator double(BFloat16 value) => value.ToSingle();

    /// <summary>Bitwise equality, every NaN equal to every NaN (see <see cref="Equals(BFloat16)"/>).</summary>
    /// <param name="left">One value.</param>
    /// <param name="right">The other.</param>
    public static bool operator ==(BFloat16 left, BFloat16 right) => left.Equals(right);

    /// <summary>The negation of <see cref="op_Equality"/>.</summary>
    /// <param name="left">One value.</param>
    /// <param name="right">The other.</param>
    public static bool operator !=(BFloat16 left, BFloat16 right) => !left.Equals(right);

    /// <summary>Rounds <paramref name="value"/> to the nearest BF16, ties to even; NaN stays NaN.</summary>
    /// <param name="value">The value to convert.</param>
    public static BFloat16 FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            // Truncating could leave a NaN whose payload sat only in the dropped bits as infinity: force it quiet.
            return new((ushort)((bits >> 16) | 0x0040));
        }

        // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even; a carry into the exponent is
        // correct, up to infinity for values past MaxValue's halfway point.
        return new((ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16));
    }

    /// <summary>Rounds <paramref name="value"/> to the nearest BF16 (once, not through float), ties to even; NaN stays NaN.</summary>
    /// <param name="value">The value to convert.</param>
    public static BFloat16 FromDouble(double value)
    {
        // double → float rounded to odd, then float → BF16 to nearest even is the correctly rounded double → BF16:
        // float keeps more than two bits beyond BF16's, so the sticky odd bit breaks what would otherwise be a false tie.
        float single = (float)value;
        uint bits = BitConverter.SingleToUInt32Bits(single);
        if (!double.IsNaN(value) && single != value)
        {
            if (Math.Abs((double)single) > Math.Abs(value))
            {
                bits--; // rounded away from zero (up to infinity): step back towards zero, i.e. truncate
            }

            bits |= 1;
        }

        return FromSingle(BitConverter.UInt32BitsToSingle(bits));
    }

    /// <summary>The exact float.</summary>
    public float ToSingle() => BitConverter.UInt32BitsToSingle((uint)_bits << 16);

    /// <summary>Bitwise equality (0 and -0 differ), except that every NaN equals every NaN.</summary>
    /// <param name="other">The value to compare with.</param>
    public bool Equals(BFloat16 other) => _bits == other._bits || (IsNaN(this) && IsNaN(other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IsNaN(this) ? NaN._bits : _bits;

    /// <summary>The shortest invariant text that reads back as this value, e.g. <c>0.1</c>, <c>-1.5</c>, <c>NaN</c>.</summary>
    public override string ToString()
    {
        Span<char> text = stackalloc char[32];
        return TryFormat(text, out int written, default, CultureInfo.InvariantCulture) ? new string(text[..written]) : ToSingle().ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// With no <paramref name="format"/>, the shortest text that reads back as this value; otherwise as the float
    /// value formats.
    /// </summary>
    /// <param name="format">A numeric format string, or null for the shortest round-trip text.</param>
    /// <param name="formatProvider">The culture; null for the invariant culture.</param>
    public string ToString(string? format, IFormatProvider? formatProvider)
    {
        if (string.IsNullOrEmpty(format))
        {
            Span<char> text = stackalloc char[32];
            if (TryFormat(text, out int written, default, formatProvider))
            {
                return new string(text[..written]);
            }
        }

        return ToSingle().ToString(format, formatProvider ?? CultureInfo.InvariantCulture);
    }

    /// <summary>Formats into <paramref name="destination"/> as <see cref="ToString(string?, IFormatProvider?)"/> does.</summary>
    /// <param name="destination">Where the characters go.</param>
    /// <param name="charsWritten">How many were written.</param>
    /// <param name="format">A numeric format string, or empty for the shortest round-trip text.</param>
    /// <param name="provider">The culture; null for the invariant culture.</param>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        provider ??= CultureInfo.InvariantCulture;
        float value = ToSingle();
        if (!format.IsEmpty || !float.IsFinite(value))
        {
            return value.TryFormat(destination, out charsWritten, format, provider);
        }

        // Three or four significant digits always read back (8 significant bits); try fewer first.
        for (int precision = 1; precision <= 4; precision++)
        {
            if (!value.TryFormat(destination, out charsWritten, Precision(precision), provider))
            {
                return false;
            }

            if (double.TryParse(destination[..charsWritten], NumberStyles.Float, provider, out double back) && FromDouble(back)._bits == _bits)
            {
                return true;
            }
        }

        return value.TryFormat(destination, out charsWritten, default, provider);
    }

    /// <summary>Formats UTF-8 into <paramref name="utf8Destination"/> as <see cref="ToString(string?, IFormatProvider?)"/> does.</summary>
    /// <param name="utf8Destination">Where the bytes go.</param>
    /// <param name="bytesWritten">How many were written.</param>
    /// <param name="format">A numeric format string, or empty for the shortest round-trip text.</param>
    /// <param name="provider">The culture; null for the invariant culture.</param>
    public bool TryFormat(Span<byte> utf8Destination, out int bytesWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        provider ??= CultureInfo.InvariantCulture;
        float value = ToSingle();
        if (!format.IsEmpty || !float.IsFinite(value))
        {
            return value.TryFormat(utf8Destination, out bytesWritten, format, provider);
        }

        for (int precision = 1; precision <= 4; precision++)
        {
            if (!value.TryFormat(utf8Destination, out bytesWritten, Precision(precision), provider))
            {
                return false;
            }

            if (double.TryParse(utf8Destination[..bytesWritten], NumberStyles.Float, provider, out double back) && FromDouble(back)._bits == _bits)
            {
                return true;
            }
        }

        return value.TryFormat(utf8Destination, out bytesWritten, default, provider);
    }

    private static ReadOnlySpan<char> Precision(int digits) => digits switch
    {
        1 => "G1",
        2 => "G2",
        3 => "G3",
        _ => "G4",
    };
}
