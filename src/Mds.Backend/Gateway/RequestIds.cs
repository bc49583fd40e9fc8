using System.Security.Cryptography;

namespace Mds.Backend.Gateway;

/// <summary>
/// Hot path: new request ids, shaped as <c>Guid.CreateVersion7().ToString("N")</c> (32 lowercase hex digits: a UUIDv7,
/// its first 48 bits the Unix time in milliseconds, so ids sort by time and index cheaply) without its system call:
/// on Linux <see cref="Guid.CreateVersion7()"/> reads its 16 random bytes from <c>/dev/urandom</c>, one <c>read</c>
/// per request. The random bits here come from <see cref="RandomNumberGenerator"/> (OpenSSL's user-space DRBG,
/// cryptographically strong like the kernel's), so ids are exactly as hard to guess as before.
/// </summary>
public static class RequestIds
{
    /// <summary>A new time-ordered request id (UUIDv7, 32 lowercase hex digits).</summary>
    public static string New() => New(DateTimeOffset.UtcNow);

    /// <summary>A new request id whose time bits are <paramref name="now"/>'s (for tests).</summary>
    internal static string New(DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes[6..]);
        long ms = now.ToUnixTimeMilliseconds();
        for (int i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)ms;
            ms >>= 8;
        }

        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x70); // version 7
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 9562 variant
        return Convert.ToHexStringLower(bytes);
    }
}
