namespace Mds.Analytics.Tabular;

/// <summary>
/// The vocabulary of a text (categorical) column: each value seen in the reference gets an integer code, the most
/// frequent value 0 (ties in order of first appearance), so the statistics that need numbers (chi-squared drift,
/// KernelSHAP's coalitions) work on codes and the codes decode back to the text. Values not in the vocabulary get
/// codes past its end from an <see cref="Encoder"/>, one per use (a drift window, an explanation). Immutable.
/// </summary>
public sealed class CategoryCodes
{
    private readonly Dictionary<string, int> _codes;

    private CategoryCodes(string[] values, long[] counts)
    {
        Values = values;
        Counts = counts;
        _codes = new Dictionary<string, int>(values.Length, StringComparer.Ordinal);
        for (int i = 0; i < values.Length; i++)
        {
            _codes[values[i]] = i;
        }
    }

    /// <summary>The values, by code: the most frequent first.</summary>
    public IReadOnlyList<string> Values { get; }

    /// <summary>How often each value occurs in the reference, by code.</summary>
    public IReadOnlyList<long> Counts { get; }

    /// <summary>The vocabulary of <paramref name="column"/>'s values.</summary>
    public static CategoryCodes Fit(IEnumerable<string> column)
    {
        ArgumentNullException.ThrowIfNull(column);
        var counts = new Dictionary<string, (long Count, int First)>(StringComparer.Ordinal);
        int position = 0;
        foreach (string value in column)
        {
            counts[value] = counts.TryGetValue(value, out var seen) ? (seen.Count + 1, seen.First) : (1, position);
            position++;
        }

        var ordered = counts.OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Value.First).ToArray();
        return new CategoryCodes([.. ordered.Select(kv => kv.Key)], [.. ordered.Select(kv => kv.Value.Count)]);
    }

    /// <summary>The code of <paramref name="value"/> in the vocabulary; null when the reference never held it.</summary>
    public int? CodeOf(string value) => _codes.TryGetValue(value, out int code) ? code : null;

    /// <summary>A fresh encoder: known values keep their codes, new ones get the next codes past the vocabulary.</summary>
    public Encoder NewEncoder() => new(this);

    /// <summary>Codes values, extending the vocabulary with the values it meets for the first time. Not thread-safe; one per use.</summary>
    public sealed class Encoder
    {
        private readonly CategoryCodes _codes;
        private readonly Dictionary<string, int> _unseen = new(StringComparer.Ordinal);
        private readonly List<string> _unseenValues = [];

        internal Encoder(CategoryCodes codes) => _codes = codes;

        /// <summary>The code of <paramref name="value"/>: its vocabulary code, else one past the vocabulary kept for it.</summary>
        public int Code(string value)
        {
            ArgumentNullException.ThrowIfNull(value);
            if (_codes.CodeOf(value) is { } known)
            {
                return known;
            }

            if (!_unseen.TryGetValue(value, out int code))
            {
                code = _codes.Values.Count + _unseenValues.Count;
                _unseen[value] = code;
                _unseenValues.Add(value);
            }

            return code;
        }

        /// <summary>The value of <paramref name="code"/> (rounded to the nearest integer).</summary>
        /// <exception cref="ArgumentOutOfRangeException">No value has that code.</exception>
        public string Value(double code)
        {
            long c = (long)Math.Round(code);
            int known = _codes.Values.Count;
            return c >= 0 && c < known ? _codes.Values[(int)c]
                : c >= known && c - known < _unseenValues.Count ? _unseenValues[(int)(c - known)]
                : throw new ArgumentOutOfRangeException(nameof(code), code, "No value has this code.");
        }
    }
}
