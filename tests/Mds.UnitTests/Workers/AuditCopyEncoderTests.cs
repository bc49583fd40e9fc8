using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Inference;
using Mds.Workers.Audit;

namespace Mds.UnitTests.Workers;

/// <summary>The audit writer's binary COPY encoding, read back field by field as PostgreSQL would.</summary>
public sealed class AuditCopyEncoderTests
{
    private static readonly InferenceRequest Small = new() { Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [1, 2], new[] { 1.5f, 2f })] };

    [Fact]
    public void A_record_becomes_one_tuple_of_sixteen_fields_in_column_order()
    {
        var id = Guid.CreateVersion7();
        var time = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.FromHours(1)).AddTicks(12_345_670);
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        encoder.WriteHeader();
        encoder.WriteRow(new InferenceRecord(id, time, new string('r', 200), "iris", 3, 200, 1.25, "caller", "0af7651916cd43dd8448eb211c80319c", null, Small, null), "worker-0");
        encoder.WriteTrailer();

        var fields = ReadSingleTuple(encoder.Written.ToArray());
        Assert.Equal(16, fields.Count);
        Assert.Equal(id, new Guid(fields[0]!, bigEndian: true));
        long micros = BinaryPrimitives.ReadInt64BigEndian(fields[1]);
        Assert.Equal(time.UtcDateTime, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(micros * 10));
        Assert.Equal(new string('r', 128), Text(fields[2])); // clipped to the column's length
        Assert.Equal("iris", Text(fields[3]));
        Assert.Equal(3, BinaryPrimitives.ReadInt32BigEndian(fields[4]));
        Assert.Equal("worker-0", Text(fields[5]));
        Assert.Equal(200, BinaryPrimitives.ReadInt32BigEndian(fields[6]));
        Assert.Equal(1.25, BinaryPrimitives.ReadDoubleBigEndian(fields[7]));
        Assert.Equal("caller", Text(fields[8]));
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", Text(fields[9]));
        Assert.Null(fields[10]); // no error
        var request = Json(fields[11]);
        Assert.Equal([1.5, 2.0], request.GetProperty("inputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Null(fields[12]); // no response
        Assert.Null(fields[13]); // no experiment
        Assert.Null(fields[14]); // no candidate
        Assert.Equal([0], fields[15]); // not a mirror
    }

    [Fact]
    public void A_record_tagged_by_an_experiment_carries_its_experiment_candidate_and_mirror_flag()
    {
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        encoder.WriteHeader();
        encoder.WriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r1", "m", 1, 200, 1, "c", null, null, Small, null,
            new Mds.Contracts.Api.ExperimentTag("ab", "m@2", Mirror: false)), "w");
        encoder.WriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r1.mirror", "shadow", 1, 200, 1, "c", null, null, Small, null,
            new Mds.Contracts.Api.ExperimentTag("ab", "shadow", Mirror: true)), "w");
        encoder.WriteTrailer();

        var tuples = ReadTuples(encoder.Written.ToArray());
        Assert.Equal(("ab", "m@2", (byte)0), (Text(tuples[0][13]), Text(tuples[0][14]), tuples[0][15]![0]));
        Assert.Equal(("ab", "shadow", (byte)1), (Text(tuples[1][13]), Text(tuples[1][14]), tuples[1][15]![0]));
    }

    [Fact]
    public void A_tuple_from_before_the_experiment_tags_is_upgraded_to_the_bytes_an_untagged_record_gets_now()
    {
        var record = new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r1", "m", 1, 200, 1, "c", null, null, Small, null);
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        encoder.WriteRow(record, "w");
        byte[] now = encoder.Written.ToArray();

        // What the encoder wrote before: the first 13 fields, field count 13 (the three new columns are the last 13 bytes).
        byte[] before = now[..^13];
        BinaryPrimitives.WriteInt16BigEndian(before, 13);
        var upgraded = new ArrayBufferWriter<byte>();
        upgraded.Write(new byte[] { 9, 9 }); // rows before it are left alone
        upgraded.Write(before);
        Assert.Equal(now.Length, AuditCopyEncoder.Upgrade(upgraded, before.Length));
        Assert.Equal(now, upgraded.WrittenSpan[2..].ToArray());
        Assert.Equal(now.Length, AuditCopyEncoder.Upgrade(upgraded, now.Length)); // a current tuple: unchanged
        Assert.Equal(now, upgraded.WrittenSpan[2..].ToArray());
    }

    [Fact]
    public void A_body_over_the_limit_is_stored_as_its_tensors_names_types_and_shapes()
    {
        var big = new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [100, 10], new float[1000])] };
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 500);
        encoder.WriteHeader();
        encoder.WriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r1", "m", 1, 200, 1, null, null, null, big, null), "w");
        encoder.WriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r2", "m", null, 400, 1, null, null, "bad", Small, null), "w");
        encoder.WriteTrailer();

        var tuples = ReadTuples(encoder.Written.ToArray());
        Assert.Equal(2, tuples.Count);
        var summary = Json(tuples[0][11]);
        Assert.True(summary.GetProperty("truncated").GetBoolean());
        Assert.True(summary.GetProperty("bytes").GetInt32() > 500);
        var tensor = summary.GetProperty("tensors")[0];
        Assert.Equal(("x", "FP32", "[100,10]"), (tensor.GetProperty("name").GetString(), tensor.GetProperty("datatype").GetString(), tensor.GetProperty("shape").GetRawText()));
        // the row after an oversized body is intact
        Assert.Equal("r2", Text(tuples[1][2]));
        Assert.Null(tuples[1][4]);
        Assert.Equal("bad", Text(tuples[1][10]));
        Assert.Equal("x", Json(tuples[1][11]).GetProperty("inputs")[0].GetProperty("name").GetString());
    }

    [Fact]
    public void A_NUL_in_ids_caller_and_error_text_is_replaced_so_PostgreSQL_does_not_refuse_the_batch()
    {
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        encoder.WriteHeader();
        encoder.WriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "req\0id", "m", 1, 400, 1, "ca\0ller", "tr\0ace", "bad\0input", null, null), "w");
        encoder.WriteTrailer();

        var fields = ReadSingleTuple(encoder.Written.ToArray());
        Assert.Equal(("req\uFFFDid", "ca\uFFFDller", "tr\uFFFDace", "bad\uFFFDinput"), (Text(fields[2]), Text(fields[8]), Text(fields[9]), Text(fields[10])));
        foreach (int text in new[] { 2, 8, 9, 10 })
        {
            Assert.DoesNotContain((byte)0, fields[text]!);
        }
    }

    [Fact]
    public void A_NUL_in_a_BYTES_element_or_a_parameter_becomes_U_FFFD_in_the_JSON_and_an_escaped_backslash_stays_text()
    {
        var request = new InferenceRequest
        {
            Id = "i\0d",
            Parameters = new Dictionary<string, object?> { ["p"] = "v\0" },
            Inputs = [new InferenceTensor("t", TensorDatatype.Bytes, [3], new[] { "a\0b", "\\u0000", "\0" }, new Dictionary<string, object?> { ["q\0"] = "\0\0" })],
        };
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        encoder.WriteHeader();
        encoder.WriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r", "m", 1, 200, 1, null, null, null, request, null), "w");
        encoder.WriteTrailer();

        var field = ReadSingleTuple(encoder.Written.ToArray())[11]!;
        var json = Json(field);
        Assert.Equal("i\uFFFDd", json.GetProperty("id").GetString());
        Assert.Equal("v\uFFFD", json.GetProperty("parameters").GetProperty("p").GetString());
        var input = json.GetProperty("inputs")[0];
        Assert.Equal(["a\uFFFDb", "\\u0000", "\uFFFD"], input.GetProperty("data").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("\uFFFD\uFFFD", input.GetProperty("parameters").GetProperty("q\uFFFD").GetString());
    }

    [Fact]
    public void Unpaired_surrogates_in_text_and_tensors_are_stored_as_valid_UTF8_not_an_exception()
    {
        var request = new InferenceRequest { Inputs = [new InferenceTensor("t\uD800", TensorDatatype.Bytes, [2], new[] { "x\uDC00y", "z\uD800" })] };
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        encoder.WriteHeader();
        Assert.Null(encoder.TryWriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r\uD800", "m", 1, 200, 1, "c\uDFFF", null, null, request, null), "w"));
        encoder.WriteTrailer();

        var fields = ReadSingleTuple(encoder.Written.ToArray());
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        Assert.Equal("r\uFFFD", strict.GetString(fields[2]!));
        Assert.Equal("c\uFFFD", strict.GetString(fields[8]!));
        string json = strict.GetString(fields[11]!); // json: the text, no jsonb version byte
        Assert.DoesNotContain("\\uD", json, StringComparison.OrdinalIgnoreCase); // no escaped lone surrogate for jsonb to refuse
        using var document = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
    }

    [Fact]
    public void Sanitize_replaces_NUL_and_lone_surrogates_only()
    {
        // cases in code, not InlineData: xUnit's test case serialisation garbles lone surrogates
        (string Text, string Expected)[] cases =
        [
            ("plain", "plain"),
            ("a\0b", "a\uFFFDb"),
            ("\uD800", "\uFFFD"),
            ("x\uDC00\uD800", "x\uFFFD\uFFFD"),
            ("pair \uD83D\uDE00 ok", "pair \uD83D\uDE00 ok"),
            ("\uD83D\uDE00\uD83D", "\uD83D\uDE00\uFFFD"),
        ];
        foreach (var (text, expected) in cases)
        {
            Assert.Equal(expected, AuditCopyEncoder.Sanitize(text));
        }

        Assert.Same("plain", AuditCopyEncoder.Sanitize("plain"));
    }

    [Fact]
    public void The_buffer_s_size_estimate_covers_every_datatype_and_grows_with_the_tensors()
    {
        Array[] arrays = [new bool[4], new byte[4], new ushort[4], new uint[4], new ulong[4], new sbyte[4], new short[4], new int[4], new long[4], new Half[4], new float[4], new double[4], new[] { "a", "b", "c", "d" }];
        foreach (var data in arrays)
        {
            var datatype = Enum.GetValues<TensorDatatype>().Where(d => d != TensorDatatype.Invalid).First(d => d.ElementType() == data.GetType().GetElementType());
            var request = new InferenceRequest { Inputs = [new InferenceTensor("t", datatype, [4], data)] };
            var record = new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r", "m", 1, 200, 1, null, null, null, request, null);
            Assert.True(AuditCopyEncoder.EstimateBytes(record) > 256, datatype.ToWireName());
        }

        var big = new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [1000], new float[1000])] };
        Assert.True(AuditCopyEncoder.EstimateBytes(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r", "m", 1, 200, 1, null, null, null, big, null)) >= 4000);
    }

    [Fact]
    public void Payloads_go_out_as_json_text_by_default_and_with_jsonb_s_version_byte_for_a_jsonb_column()
    {
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Int64, [1], new[] { 9007199254740993L })] };
        var json = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        var jsonb = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024) { Jsonb = true };
        var record = new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "r", "m", 1, 200, 1, null, null, null, Small, response);
        json.WriteRow(record, "w");
        jsonb.WriteRow(record, "w");

        var asJson = Assert.Single(ReadTuples([.. AuditCopyEncoder.Header.ToArray(), .. json.Written.ToArray(), 0xFF, 0xFF]));
        var asJsonb = Assert.Single(ReadTuples([.. AuditCopyEncoder.Header.ToArray(), .. jsonb.Written.ToArray(), 0xFF, 0xFF]));
        foreach (int payload in new[] { 11, 12 })
        {
            Assert.Equal((byte)'{', asJson[payload]![0]);
            Assert.Equal([1, .. asJson[payload]!], asJsonb[payload]);
        }

        Assert.Equal(9007199254740993L, Json(asJson[12]).GetProperty("outputs")[0].GetProperty("data")[0].GetInt64());
        Assert.True(AuditCopyEncoder.PayloadsAre(json.Written.Span, jsonb: false));
        Assert.False(AuditCopyEncoder.PayloadsAre(json.Written.Span, jsonb: true));
        Assert.True(AuditCopyEncoder.PayloadsAre(jsonb.Written.Span, jsonb: true));
    }

    [Fact]
    public void Tuples_encoded_for_jsonb_before_the_AuditCost_migration_convert_to_json_and_back_byte_for_byte()
    {
        // A spill file from before the migration (jsonb payloads) replayed into json columns, mixed with records encoded
        // since (json), and the other way round (a database migrated back down): only the payloads' version byte changes.
        var json = new AuditCopyEncoder(maxPayloadBytes: 500);
        var jsonb = new AuditCopyEncoder(maxPayloadBytes: 500) { Jsonb = true };
        var big = new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [1, 200], new float[200])] }; // over the limit: the summary
        var records = new[]
        {
            new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "a", "m", 1, 200, 1, "c", null, null, Small, null),
            new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "b", "m", null, 400, 1, null, null, "bad", null, null),
            new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, "c", "m", 1, 200, 1, null, null, null, big, null,
                new Mds.Contracts.Api.ExperimentTag("e", "m", Mirror: true)),
        };
        foreach (var record in records)
        {
            json.WriteRow(record, "w");
            jsonb.WriteRow(record, "w");
        }

        var toJson = new ArrayBufferWriter<byte>();
        AuditCopyEncoder.ConvertPayloads(jsonb.Written.Span, jsonb: false, toJson);
        Assert.Equal(json.Written.ToArray(), toJson.WrittenSpan.ToArray());
        var toJsonb = new ArrayBufferWriter<byte>();
        AuditCopyEncoder.ConvertPayloads(json.Written.Span, jsonb: true, toJsonb);
        Assert.Equal(jsonb.Written.ToArray(), toJsonb.WrittenSpan.ToArray());

        byte[] mixed = [.. jsonb.Written.ToArray(), .. json.Written.ToArray()];
        Assert.False(AuditCopyEncoder.PayloadsAre(mixed, jsonb: false));
        var converted = new ArrayBufferWriter<byte>();
        AuditCopyEncoder.ConvertPayloads(mixed, jsonb: false, converted);
        Assert.Equal([.. json.Written.ToArray(), .. json.Written.ToArray()], converted.WrittenSpan.ToArray());
        Assert.True(AuditCopyEncoder.PayloadsAre(converted.WrittenSpan, jsonb: false));
    }

    private static List<byte[]?> ReadSingleTuple(byte[] copy) => Assert.Single(ReadTuples(copy));

    /// <summary>Reads PostgreSQL's binary COPY format: the 19-byte header, tuples (field count, then length-prefixed fields, -1 for NULL), the -1 trailer.</summary>
    private static List<List<byte[]?>> ReadTuples(byte[] copy)
    {
        Assert.Equal(Encoding.Latin1.GetBytes("PGCOPY\n\xff\r\n\0"), copy[..11]);
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(copy.AsSpan(11))); // flags
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(copy.AsSpan(15))); // header extension
        int at = 19;
        var tuples = new List<List<byte[]?>>();
        while (true)
        {
            short count = BinaryPrimitives.ReadInt16BigEndian(copy.AsSpan(at));
            at += 2;
            if (count == -1)
            {
                Assert.Equal(copy.Length, at); // nothing after the trailer
                return tuples;
            }

            var fields = new List<byte[]?>();
            for (int i = 0; i < count; i++)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(copy.AsSpan(at));
                at += 4;
                fields.Add(length < 0 ? null : copy[at..(at + length)]);
                at += Math.Max(length, 0);
            }

            tuples.Add(fields);
        }
    }

    private static string Text(byte[]? field) => Encoding.UTF8.GetString(field!);

    /// <summary>A json field: the JSON text (the encoder's default, for the columns since migration AuditCost).</summary>
    private static JsonElement Json(byte[]? field)
    {
        Assert.NotEqual(1, field![0]); // no jsonb version byte
        using var document = JsonDocument.Parse(field);
        return document.RootElement.Clone();
    }
}
