using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Inference;

namespace Mds.Workers.Audit;

// Hot path (runs for every inference record, off the request path): encodes straight into one reused buffer, no
// per-value type resolution, no strings made from the JSON. Profiling the writer at a few thousand records a second
// found most of its time in the driver's per-value COPY calls (13 a row); this writes the same bytes itself.

/// <summary>
/// Encodes inference records as PostgreSQL's binary COPY format (header, one tuple per record, trailer) for the columns
/// <see cref="AuditWriter"/> names, in that order: uuid, timestamptz, varchar ×2, int4, varchar, int4, float8,
/// varchar ×3, json ×2 (the request and the response: <c>json</c> since migration AuditCost, <c>jsonb</c> before it —
/// <see cref="Jsonb"/> picks the wire format, and <see cref="ConvertPayloads"/> turns a tuple of one into the other), then
/// (since the experiment tags) text ×2 and bool: the experiment, the candidate and whether the call was a mirror's
/// shadow copy. Text is clipped as the column limits require; a request or response whose V2 JSON is larger
/// than the payload limit is stored as its tensors' names, datatypes and shapes. What PostgreSQL cannot store is
/// replaced by U+FFFD: NUL characters in text and JSON (<c>\u0000</c>, which jsonb refuses) and unpaired UTF-16
/// surrogates. A body that cannot be written as JSON at all is stored as its (sanitised) tensor summary.
/// </summary>
internal sealed class AuditCopyEncoder(int maxPayloadBytes)
{
    /// <summary>Columns in a tuple this encoder writes.</summary>
    public const short ColumnCount = 16;

    /// <summary>Columns in a tuple written before the experiment tags (found in older spill files).</summary>
    public const short ColumnCountBeforeExperiments = 13;
    private const byte JsonbVersion = 1;

    // The request's and the response's fields in a tuple (0-based).
    private const int RequestField = 11;
    private const int ResponseField = 12;

    // "PGCOPY\n\377\r\n\0", then 32-bit flags and header-extension length, both 0.
    private static readonly byte[] HeaderBytes = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    // PostgreSQL counts timestamps in microseconds from 2000-01-01 UTC.
    private static readonly long PostgresEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);

    /// <summary>The bytes encoded since the last <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    public int WrittenCount => _buffer.WrittenCount;

    public void Clear() => _buffer.ResetWrittenCount();

    /// <summary>
    /// Whether the request and response go out in jsonb's binary format (a version byte, then the JSON text) rather than
    /// json's (the text alone): the writer sets it to the columns' type as it last saw it.
    /// </summary>
    public bool Jsonb { get; set; }

    /// <summary>The COPY header.</summary>
    public static ReadOnlyMemory<byte> Header => HeaderBytes;

    /// <summary>The end-of-data marker: a tuple with field count -1.</summary>
    public static ReadOnlyMemory<byte> Trailer { get; } = new byte[] { 0xFF, 0xFF };

    public void WriteHeader() => _buffer.Write(HeaderBytes);

    /// <summary>The end-of-data marker: a tuple with field count -1.</summary>
    public void WriteTrailer() => WriteInt16(-1);

    /// <summary>
    /// Encodes one record as a tuple, or nothing when it cannot be encoded (then the buffer is as before and the
    /// exception is returned).
    /// </summary>
    public Exception? TryWriteRow(InferenceRecord record, string worker)
    {
        int start = _buffer.WrittenCount;
        try
        {
            WriteRow(record, worker);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or OverflowException or NotSupportedException)
        {
            Rewind(start);
            return e;
        }
    }

    /// <summary>The id (first column) of an encoded tuple.</summary>
    public static Guid IdOf(ReadOnlySpan<byte> row) => row.Length >= 22 ? new Guid(row.Slice(6, 16), bigEndian: true) : Guid.Empty;

    /// <summary>
    /// About how many bytes <paramref name="record"/> holds in memory (its strings and tensor arrays): what the
    /// buffer's byte bound counts. Deterministic for a record (records do not change after they are made).
    /// </summary>
    public static long EstimateBytes(InferenceRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        long bytes = 256 + (2L * (record.RequestId.Length + record.ModelName.Length + (record.Caller?.Length ?? 0) + (record.TraceId?.Length ?? 0) + (record.Error?.Length ?? 0)
            + (record.Experiment is { } tag ? 64 + tag.Experiment.Length + tag.Candidate.Length : 0)));
        if (record.Request is { } request)
        {
            bytes += EstimateBytes(request.Inputs) + (2L * (request.Id?.Length ?? 0));
        }

        if (record.Response is { } response)
        {
            bytes += EstimateBytes(response.Outputs);
        }

        return bytes;
    }

    private static long EstimateBytes(IReadOnlyList<InferenceTensor> tensors)
    {
        long bytes = 0;
        foreach (var tensor in tensors)
        {
            bytes += 96 + (2L * tensor.Name.Length) + (8L * tensor.Shape.Length) + (64L * (tensor.Parameters?.Count ?? 0));
            if (tensor.Data is string[] strings)
            {
                bytes += 8L * strings.Length;
                foreach (string s in strings)
                {
                    bytes += 24 + (2L * (s?.Length ?? 0));
                }
            }
            else
            {
                // The element type follows the datatype (InferenceTensor); 0 is BYTES held as something else.
                int size = tensor.Datatype.ElementSize();
                bytes += (size > 0 ? size : 16L) * tensor.Data.Length;
            }
        }

        return bytes;
    }

    /// <summary>
    /// <paramref name="text"/> with NUL characters and unpaired surrogates replaced by U+FFFD (the same string when it
    /// has none).
    /// </summary>
    public static string Sanitize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int bad = IndexOfUnstorable(text);
        if (bad < 0)
        {
            return text;
        }

        return string.Create(text.Length, (text, bad), static (span, state) =>
        {
            state.text.AsSpan().CopyTo(span);
            for (int i = state.bad; i < span.Length; i++)
            {
                char c = span[i];
                if (c == '\0')
                {
                    span[i] = '\uFFFD';
                }
                else if (char.IsHighSurrogate(c) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
                {
                    i++;
                }
                else if (char.IsSurrogate(c))
                {
                    span[i] = '\uFFFD';
                }
            }
        });
    }

    private static int IndexOfUnstorable(ReadOnlySpan<char> text)
    {
        // Fast path: no NUL and no surrogate at all.
        int i = text.IndexOf('\0');
        int s = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (s < 0)
        {
            return i;
        }

        for (int k = s; k < text.Length; k++)
        {
            char c = text[k];
            if (char.IsHighSurrogate(c) && k + 1 < text.Length && char.IsLowSurrogate(text[k + 1]))
            {
                k++;
            }
            else if (char.IsSurrogate(c))
            {
                return i >= 0 ? Math.Min(i, k) : k;
            }
        }

        return i;
    }

    /// <summary>Encodes one record as a tuple; <paramref name="worker"/> is this worker's name.</summary>
    public void WriteRow(InferenceRecord record, string worker)
    {
        ArgumentNullException.ThrowIfNull(record);
        WriteInt16(ColumnCount);

        WriteLength(16);
        record.Id.TryWriteBytes(_buffer.GetSpan(16), bigEndian: true, out _);
        _buffer.Advance(16);

        WriteLength(8);
        WriteInt64((record.Time.UtcTicks - PostgresEpochTicks) / (TimeSpan.TicksPerMillisecond / 1000));

        WriteText(record.RequestId, 128);
        WriteText(record.ModelName, 128);
        WriteInt32OrNull(record.Version);
        WriteText(worker, 128);
        WriteInt32OrNull(record.Status);

        WriteLength(8);
        BinaryPrimitives.WriteDoubleBigEndian(_buffer.GetSpan(8), record.LatencyMs);
        _buffer.Advance(8);

        WriteText(record.Caller, 256);
        WriteText(record.TraceId, int.MaxValue);
        WriteText(record.Error, 2000);
        if (record.Request is { } request)
        {
            var (lengthAt, jsonAt) = StartJson();
            bool written = TryWriteJson(() => V2JsonCodec.WriteRequest(_buffer, request), jsonAt);
            EndJson(lengthAt, jsonAt, request.Inputs, written);
        }
        else
        {
            WriteLength(-1);
        }

        if (record.Response is { } response)
        {
            var (lengthAt, jsonAt) = StartJson();
            bool written = TryWriteJson(() => V2JsonCodec.WriteResponse(_buffer, response), jsonAt);
            EndJson(lengthAt, jsonAt, response.Outputs, written);
        }
        else
        {
            WriteLength(-1);
        }

        WriteText(record.Experiment?.Experiment, Mds.Contracts.Api.ExperimentTag.MaxLength);
        WriteText(record.Experiment?.Candidate, Mds.Contracts.Api.ExperimentTag.MaxLength);
        WriteBool(record.Experiment?.Mirror ?? false);
    }

    /// <summary>
    /// The columns a tuple written before the experiment tags lacks, as <see cref="WriteRow"/> writes them for a record
    /// outside any experiment: experiment and candidate NULL, mirror false. Appended to such a tuple (with its field
    /// count raised to <see cref="ColumnCount"/>) by <see cref="Upgrade"/>.
    /// </summary>
    private static readonly byte[] UntaggedColumns = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1, 0];

    /// <summary>
    /// Makes a tuple written before the experiment tags (<see cref="ColumnCountBeforeExperiments"/> fields) one of
    /// <see cref="ColumnCount"/> fields, in place at the end of <paramref name="destination"/>: the tuple occupies the
    /// last <paramref name="length"/> bytes written; returns its new length. A tuple with any other field count is left
    /// as it is.
    /// </summary>
    public static int Upgrade(ArrayBufferWriter<byte> destination, int length)
    {
        ArgumentNullException.ThrowIfNull(destination);
        int start = destination.WrittenCount - length;
        if (length < 2 || BinaryPrimitives.ReadInt16BigEndian(destination.WrittenSpan[start..]) != ColumnCountBeforeExperiments)
        {
            return length;
        }

        BinaryPrimitives.WriteInt16BigEndian(System.Runtime.InteropServices.MemoryMarshal.AsMemory(destination.WrittenMemory).Span[start..], ColumnCount);
        destination.Write(UntaggedColumns);
        return length + UntaggedColumns.Length;
    }

    private void WriteBool(bool value)
    {
        WriteLength(1);
        _buffer.GetSpan(1)[0] = value ? (byte)1 : (byte)0;
        _buffer.Advance(1);
    }

    private void WriteText(string? text, int maxChars)
    {
        if (text is null)
        {
            WriteLength(-1);
            return;
        }

        text = Sanitize(text);
        ReadOnlySpan<char> chars = text.Length <= maxChars ? text : text.AsSpan(0, maxChars);
        int max = Encoding.UTF8.GetMaxByteCount(chars.Length);
        Span<byte> span = _buffer.GetSpan(4 + max);
        int bytes = Encoding.UTF8.GetBytes(chars, span[4..]);
        BinaryPrimitives.WriteInt32BigEndian(span, bytes);
        _buffer.Advance(4 + bytes);
    }

    private void WriteInt32OrNull(int? value)
    {
        if (value is not int v)
        {
            WriteLength(-1);
            return;
        }

        WriteLength(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.GetSpan(4), v);
        _buffer.Advance(4);
    }

    /// <summary>A length (patched by <see cref="EndJson"/>), for jsonb a version byte, then the JSON text.</summary>
    private (int LengthAt, int JsonAt) StartJson()
    {
        int lengthAt = _buffer.WrittenCount;
        WriteLength(0);
        if (Jsonb)
        {
            _buffer.GetSpan(1)[0] = JsonbVersion;
            _buffer.Advance(1);
        }

        return (lengthAt, _buffer.WrittenCount);
    }

    /// <summary>Writes a body's JSON; false (and nothing written) when it cannot be (text that is not valid UTF-16).</summary>
    private bool TryWriteJson(Action write, int jsonAt)
    {
        try
        {
            write();
            return true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            Rewind(jsonAt);
            return false;
        }
    }

    /// <summary>
    /// Patches the length; JSON over the limit (or that could not be written) is replaced by the tensors' names,
    /// datatypes and shapes; <c>\u0000</c> escapes are replaced by <c>\uFFFD</c> in place.
    /// </summary>
    private void EndJson(int lengthAt, int jsonAt, IReadOnlyList<InferenceTensor> tensors, bool written)
    {
        int jsonBytes = _buffer.WrittenCount - jsonAt;
        if (written && jsonBytes <= maxPayloadBytes)
        {
            ReplaceNulEscapes(System.Runtime.InteropServices.MemoryMarshal.AsMemory(_buffer.WrittenMemory).Span[jsonAt..]);
        }

        if (jsonBytes > maxPayloadBytes || !written)
        {
            var summary = JsonSerializer.SerializeToUtf8Bytes(new
            {
                truncated = true,
                unencodable = written ? (bool?)null : true,
                bytes = jsonBytes,
                tensors = tensors.Select(t => new { name = Sanitize(t.Name), datatype = t.Datatype.ToWireName(), shape = t.Shape }),
            });
            Rewind(jsonAt);
            _buffer.Write(summary);
            jsonBytes = summary.Length;
        }

        Patch(lengthAt, jsonAt - lengthAt - 4 + jsonBytes);
    }

    /// <summary>
    /// Whether every tuple in <paramref name="tuples"/> (whole tuples, no header) has its request and response in the
    /// given format already. A JSON text never starts with byte 1 (jsonb's version), so each field says which it is.
    /// </summary>
    public static bool PayloadsAre(ReadOnlySpan<byte> tuples, bool jsonb)
    {
        bool all = true;
        Walk(tuples, (field, isPayload) => all &= !isPayload || field.Length == 0 || (field[0] == JsonbVersion) == jsonb, null);
        return all;
    }

    /// <summary>
    /// Appends <paramref name="tuples"/> to <paramref name="destination"/> with each request and response in the given
    /// format (a jsonb version byte stripped or added); every other field as it is.
    /// </summary>
    public static void ConvertPayloads(ReadOnlySpan<byte> tuples, bool jsonb, ArrayBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Walk(tuples, (field, isPayload) =>
        {
            int skip = isPayload && field.Length > 0 && field[0] == JsonbVersion && !jsonb ? 1 : 0;
            bool add = isPayload && field.Length > 0 && field[0] != JsonbVersion && jsonb;
            var body = field[skip..];
            var span = destination.GetSpan(4 + (add ? 1 : 0) + body.Length);
            BinaryPrimitives.WriteInt32BigEndian(span, body.Length + (add ? 1 : 0));
            if (add)
            {
                span[4] = JsonbVersion;
            }

            body.CopyTo(span[(add ? 5 : 4)..]);
            destination.Advance(4 + (add ? 1 : 0) + body.Length);
        }, destination);
    }

    private delegate void FieldAction(ReadOnlySpan<byte> field, bool isPayload);

    /// <summary>
    /// Calls <paramref name="field"/> for each non-NULL field of each tuple (with whether it is the request or the
    /// response); when <paramref name="copyRest"/> is given, field counts and NULL fields are copied to it as they are.
    /// </summary>
    private static void Walk(ReadOnlySpan<byte> tuples, FieldAction field, ArrayBufferWriter<byte>? copyRest)
    {
        int at = 0;
        while (at < tuples.Length)
        {
            short count = BinaryPrimitives.ReadInt16BigEndian(tuples[at..]);
            copyRest?.Write(tuples.Slice(at, 2));
            at += 2;
            for (int i = 0; i < count; i++)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(tuples[at..]);
                if (length < 0)
                {
                    copyRest?.Write(tuples.Slice(at, 4));
                    at += 4;
                    continue;
                }

                field(tuples.Slice(at + 4, length), i is RequestField or ResponseField);
                at += 4 + length;
            }
        }
    }

    /// <summary>
    /// Replaces, in JSON text, each <c>\u0000</c> escape and each escaped unpaired surrogate by <c>\uFFFD</c> (same
    /// length): jsonb refuses both. An escaped backslash followed by "u0000" is text, not an escape, and is left alone.
    /// </summary>
    internal static void ReplaceNulEscapes(Span<byte> json)
    {
        int i = json.IndexOf((byte)'\\');
        while (i >= 0 && i + 1 < json.Length)
        {
            if (json[i + 1] == (byte)'u' && Escaped(json, i) is int c)
            {
                if (c == 0 || (c >= 0xDC00 && c <= 0xDFFF))
                {
                    "FFFD"u8.CopyTo(json.Slice(i + 2, 4));
                }
                else if (c >= 0xD800 && c <= 0xDBFF)
                {
                    if (Escaped(json, i + 6) is int low && low >= 0xDC00 && low <= 0xDFFF)
                    {
                        i += 6; // a pair: keep both
                    }
                    else
                    {
                        "FFFD"u8.CopyTo(json.Slice(i + 2, 4));
                    }
                }

                i += 6;
            }
            else
            {
                i += 2; // any other escape: skip the escaped character (an escaped backslash included)
            }

            int next = i < json.Length ? json[i..].IndexOf((byte)'\\') : -1;
            i = next < 0 ? -1 : i + next;
        }
    }

    /// <summary>The code unit of the <c>\uXXXX</c> escape at <paramref name="at"/>, if there is one.</summary>
    private static int? Escaped(ReadOnlySpan<byte> json, int at)
    {
        if (at + 6 > json.Length || json[at] != (byte)'\\' || json[at + 1] != (byte)'u')
        {
            return null;
        }

        int value = 0;
        foreach (byte b in json.Slice(at + 2, 4))
        {
            int digit = HexConverter(b);
            if (digit < 0)
            {
                return null;
            }

            value = (value << 4) | digit;
        }

        return value;
    }

    private static int HexConverter(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private void Rewind(int count)
    {
        // ArrayBufferWriter cannot move back; keep what precedes, then go on from there (rare: oversized bodies only).
        byte[] kept = _buffer.WrittenSpan[..count].ToArray();
        _buffer.ResetWrittenCount();
        _buffer.Write(kept);
    }

    private void Patch(int at, int length) =>
        BinaryPrimitives.WriteInt32BigEndian(System.Runtime.InteropServices.MemoryMarshal.AsMemory(_buffer.WrittenMemory).Span.Slice(at, 4), length);

    private void WriteLength(int length) => WriteInt32(length);

    private void WriteInt16(short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(_buffer.GetSpan(2), value);
        _buffer.Advance(2);
    }

    private void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    private void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }
}
