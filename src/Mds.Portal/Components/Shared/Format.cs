using System.Globalization;

namespace Mds.Portal.Components.Shared;

/// <summary>How the portal writes numbers, sizes, shapes and times.</summary>
public static class Format
{
    /// <summary><c>[?, 4]</c> for a shape with a dynamic first dimension.</summary>
    public static string Shape(IEnumerable<long> shape)
        => "[" + string.Join(", ", shape.Select(d => d < 0 ? "?" : d.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>A byte count in B, KB, MB or GB (binary multiples).</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }

    /// <summary>A moment in UTC, to the minute: <c>2026-11-03 14:05 UTC</c>.</summary>
    public static string Time(DateTimeOffset at)
        => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>How long ago, roughly: <c>just now</c>, <c>5 min ago</c>, <c>3 h ago</c>, <c>2 d ago</c>.</summary>
    public static string Ago(DateTimeOffset at, DateTimeOffset now)
    {
        var age = now - at;
        return age.TotalSeconds switch
        {
            < 60 => "just now",
            < 3600 => string.Create(CultureInfo.InvariantCulture, $"{(int)age.TotalMinutes} min ago"),
            < 86400 => string.Create(CultureInfo.InvariantCulture, $"{(int)age.TotalHours} h ago"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{(int)age.TotalDays} d ago"),
        };
    }

    /// <summary>A SHA-256 shortened for display: its first 12 hex digits.</summary>
    public static string ShortSha(string sha256) => sha256.Length > 12 ? sha256[..12] : sha256;

    /// <summary>A duration in milliseconds: <c>12.3 ms</c>, or seconds past 10 s.</summary>
    public static string Milliseconds(TimeSpan duration)
        => duration.TotalSeconds >= 10
            ? string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.0} s")
            : string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.#} ms");

    /// <summary>A short wait given in microseconds: <c>500 µs</c>, <c>2.5 ms</c>, <c>0 µs</c>.</summary>
    public static string Microseconds(int microseconds)
        => microseconds >= 1000
            ? string.Create(CultureInfo.InvariantCulture, $"{microseconds / 1000.0:0.###} ms")
            : string.Create(CultureInfo.InvariantCulture, $"{microseconds} µs");

    /// <summary>How long ago in seconds when recent: <c>3 s ago</c>; otherwise as <see cref="Ago"/>.</summary>
    public static string SecondsAgo(DateTimeOffset at, DateTimeOffset now)
    {
        double seconds = Math.Max(0, (now - at).TotalSeconds);
        return seconds < 120 ? string.Create(CultureInfo.InvariantCulture, $"{(int)seconds} s ago") : Ago(at, now);
    }
}
