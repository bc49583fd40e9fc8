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
/// varchar ×3, jsonb ×2. Text is clipped as the column limits require; a request or response whose V2 JSON is larger
/// than the payload limit is stored as its tensors' names, datatypes and shapes.
/// </summary>
internal sealed class AuditCopyEncoder(int maxPayloadBytes)
{
    private const short ColumnCount = 13;
    private const byte JsonbVersion = 1;

    // "PGCOPY\n\377\r\n\0", then 32-bit flags and header-extension length, both 0.
    private static readonly byte[] Header = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    // PostgreSQL counts timestamps in microseconds from 2000-01-01 UTC.
    private static readonly long PostgresEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);

    /// <summary>The bytes encoded since the last <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    public int WrittenCount => _buffer.WrittenCount;

    public void Clear() => _buffer.ResetWrittenCount();

    public void WriteHeader() => _buffer.Write(Header);

    /// <summary>The end-of-data marker: a tuple with field count -1.</summary>
    public void WriteTrailer() => WriteInt16(-1);

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
            V2JsonCodec.WriteRequest(_buffer, request);
            EndJson(lengthAt, jsonAt, request.Inputs);
        }
        else
        {
            WriteLength(-1);
        }

        if (record.Response is { } response)
        {
            var (lengthAt, jsonAt) = StartJson();
            V2JsonCodec.WriteResponse(_buffer, response);
            EndJson(lengthAt, jsonAt, response.Outputs);
        }
        else
        {
            WriteLength(-1);
        }
    }

    private void WriteText(string? text, int maxChars)
    {
        if (text is null)
        {
            WriteLength(-1);
            return;
        }

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

    /// <summary>jsonb: a length (patched by <see cref="EndJson"/>), a version byte, then the JSON text.</summary>
    private (int LengthAt, int JsonAt) StartJson()
    {
        int lengthAt = _buffer.WrittenCount;
        WriteLength(0);
        _buffer.GetSpan(1)[0] = JsonbVersion;
        _buffer.Advance(1);
        return (lengthAt, _buffer.WrittenCount);
    }

    /// <summary>Patches the length; JSON over the limit is replaced by the tensors' names, datatypes and shapes.</summary>
    private void EndJson(int lengthAt, int jsonAt, IReadOnlyList<InferenceTensor> tensors)
    {
        int jsonBytes = _buffer.WrittenCount - jsonAt;
        if (jsonBytes > maxPayloadBytes)
        {
            var summary = JsonSerializer.SerializeToUtf8Bytes(new
            {
                truncated = true,
                bytes = jsonBytes,
                tensors = tensors.Select(t => new { name = t.Name, datatype = t.Datatype.ToWireName(), shape = t.Shape }),
            });
            Rewind(jsonAt);
            _buffer.Write(summary);
            jsonBytes = summary.Length;
        }

        Patch(lengthAt, 1 + jsonBytes);
    }

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
