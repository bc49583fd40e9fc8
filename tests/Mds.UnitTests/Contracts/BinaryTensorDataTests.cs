using System.Buffers;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Contracts;

public class BinaryTensorDataTests
{
    // ---- round trips, every datatype --------------------------------------------------------------------------

    /// <summary>datatype and a typed array of 3 elements, with the edge values of the type.</summary>
    public static TheoryData<TensorDatatype, Array> EveryDatatype => new()
    {
        { TensorDatatype.Bool, new[] { true, false, true } },
        { TensorDatatype.UInt8, new byte[] { 0, 1, byte.MaxValue } },
        { TensorDatatype.UInt16, new ushort[] { 0, 1, ushort.MaxValue } },
        { TensorDatatype.UInt32, new uint[] { 0, 1, uint.MaxValue } },
        { TensorDatatype.UInt64, new ulong[] { 0, 1, ulong.MaxValue } },
        { TensorDatatype.Int8, new sbyte[] { sbyte.MinValue, 0, sbyte.MaxValue } },
        { TensorDatatype.Int16, new short[] { short.MinValue, 0, short.MaxValue } },
        { TensorDatatype.Int32, new[] { int.MinValue, 0, int.MaxValue } },
        { TensorDatatype.Int64, new[] { long.MinValue, 0L, long.MaxValue } },
        { TensorDatatype.Fp16, new[] { (Half)0.1, Half.MinValue, Half.NaN } },
        { TensorDatatype.Bf16, new[] { (BFloat16)0.1f, BFloat16.MinValue, BFloat16.NaN } },
        { TensorDatatype.Fp32, new[] { 0.1f, float.MinValue, float.NegativeInfinity } },
        { TensorDatatype.Fp64, new[] { 0.1, double.Epsilon, double.NaN } },
        { TensorDatatype.Bytes, new[] { "", "h\u00e9llo", "\u65e5\u672c\u8a9e \ud83d\ude00" } },
    };

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void Request_EachDatatype_RoundTripsThroughBinaryData(TensorDatatype datatype, Array data)
    {
        var request = new InferenceRequest { Id = "r1", Inputs = [new InferenceTensor("x", datatype, [3], data)] };

        var (body, headerLength) = WriteRequest(request, true);
        InferenceRequest decoded = BinaryTensorData.DecodeRequest(body, headerLength);

        InferenceTensor x = Assert.Single(decoded.Inputs);
        Assert.Equal(datatype, x.Datatype);
        Assert.Equal([3L], x.Shape);
        Assert.Equal(data, x.Data);
        Assert.Null(x.Parameters); // binary_data_size is taken out: the tensor looks as if it came as JSON
        Assert.Equal("r1", decoded.Id);
    }

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void Response_EachDatatype_RoundTripsThroughBinaryData(TensorDatatype datatype, Array data)
    {
        var response = new InferenceResponse { ModelName = "m", ModelVersion = "1", Outputs = [new InferenceTensor("y", datatype, [3], data)] };
        var buffer = new ArrayBufferWriter<byte>();

        int headerLength = BinaryTensorData.WriteResponse(buffer, response, [true]);
        InferenceResponse decoded = BinaryTensorData.DecodeResponse(buffer.WrittenMemory, headerLength);

        InferenceTensor y = Assert.Single(decoded.Outputs);
        Assert.Equal(datatype, y.Datatype);
        Assert.Equal(data, y.Data);
        Assert.Null(y.Parameters);
    }

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void WriteRequest_EachDatatype_HeaderHasSizeAndNoData(TensorDatatype datatype, Array data)
    {
        var request = new InferenceRequest { Inputs = [new InferenceTensor("x", datatype, [3], data)] };

        var (body, headerLength) = WriteRequest(request, true);

        using var header = JsonDocument.Parse(body.AsMemory(0, headerLength));
        JsonElement x = header.RootElement.GetProperty("inputs")[0];
        Assert.False(x.TryGetProperty("data", out _));
        long size = x.GetProperty("parameters").GetProperty("binary_data_size").GetInt64();
        Assert.Equal(body.Length - headerLength, size);
    }

    // ---- the wire format, built by hand (not by our own writer) -----------------------------------------------

    [Fact]
    public void DecodeRequest_HandMadeBody_ReadsLittleEndianElementsAndLengthPrefixedBytes()
    {
        byte[] body = Body(
            """{"inputs":[{"name":"a","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}},{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":13}},{"name":"f","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}""",
            out int headerLength,
            [1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF], // 1, -2
            [2, 0, 0, 0, (byte)'h', (byte)'i', 3, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c'],
            [0, 0, 0x80, 0x3F]); // 1.0f

        InferenceRequest request = BinaryTensorData.DecodeRequest(body, headerLength);

        Assert.Equal(new[] { 1, -2 }, request.Inputs[0].Data);
        Assert.Equal(new[] { "hi", "abc" }, request.Inputs[1].Data);
        Assert.Equal(new[] { 1f }, request.Inputs[2].Data);
    }

    [Fact]
    public void WriteResponse_BinaryOutput_WritesTritonLayout()
    {
        var response = new InferenceResponse
        {
            ModelName = "m",
            Outputs = [new InferenceTensor("i", TensorDatatype.Int16, [2], new short[] { 1, -1 }), new InferenceTensor("s", TensorDatatype.Bytes, [1], new[] { "\u00e9" })],
        };
        var buffer = new ArrayBufferWriter<byte>();

        int headerLength = BinaryTensorData.WriteResponse(buffer, response, [true, true]);

        Assert.Equal(new byte[] { 1, 0, 0xFF, 0xFF, 2, 0, 0, 0, 0xC3, 0xA9 }, buffer.WrittenSpan[headerLength..].ToArray());
        using var header = JsonDocument.Parse(buffer.WrittenMemory[..headerLength]);
        JsonElement outputs = header.RootElement.GetProperty("outputs");
        Assert.Equal(4, outputs[0].GetProperty("parameters").GetProperty("binary_data_size").GetInt64());
        Assert.Equal(6, outputs[1].GetProperty("parameters").GetProperty("binary_data_size").GetInt64());
        Assert.False(outputs[0].TryGetProperty("data", out _));
    }

    [Fact]
    public void WriteResponse_OnlySomeOutputsBinary_OthersKeepJsonData()
    {
        var response = new InferenceResponse
        {
            ModelName = "m",
            Outputs = [new InferenceTensor("a", TensorDatatype.Int64, [1], new[] { 7L }), new InferenceTensor("b", TensorDatatype.Fp32, [2], new[] { 0.5f, 2f })],
        };
        var buffer = new ArrayBufferWriter<byte>();

        int headerLength = BinaryTensorData.WriteResponse(buffer, response, [false, true]);

        using var header = JsonDocument.Parse(buffer.WrittenMemory[..headerLength]);
        JsonElement outputs = header.RootElement.GetProperty("outputs");
        Assert.Equal(7, outputs[0].GetProperty("data")[0].GetInt64());
        Assert.False(outputs[0].TryGetProperty("parameters", out _));
        Assert.Equal(8, outputs[1].GetProperty("parameters").GetProperty("binary_data_size").GetInt64());
        Assert.Equal(8, buffer.WrittenCount - headerLength);
        InferenceResponse decoded = BinaryTensorData.DecodeResponse(buffer.WrittenMemory, headerLength);
        Assert.Equal(new[] { 7L }, decoded.Outputs[0].Data);
        Assert.Equal(new[] { 0.5f, 2f }, decoded.Outputs[1].Data);
    }

    // ---- mixed inputs, buffers in pieces, parameters ------------------------------------------------------------

    [Fact]
    public void DecodeRequest_MixedJsonAndBinaryInputs_TakesBinaryInTensorOrder()
    {
        var request = new InferenceRequest
        {
            Inputs =
            [
                new InferenceTensor("a", TensorDatatype.Fp32, [2, 2], new[] { 1f, 2f, 3f, 4f }),
                new InferenceTensor("b", TensorDatatype.Int64, [1], new[] { 42L }),
                new InferenceTensor("c", TensorDatatype.Bytes, [2], new[] { "x", "yz" }),
                new InferenceTensor("d", TensorDatatype.UInt8, [3], new byte[] { 9, 8, 7 }),
            ],
        };

        var (body, headerLength) = WriteRequest(request, true, false, true, true);
        InferenceRequest decoded = BinaryTensorData.DecodeRequest(body, headerLength);

        using var header = JsonDocument.Parse(body.AsMemory(0, headerLength));
        Assert.True(header.RootElement.GetProperty("inputs")[1].TryGetProperty("data", out _));
        Assert.Equal(new long[] { 2, 2 }, decoded.Inputs[0].Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, decoded.Inputs[0].Data);
        Assert.Equal(new[] { 42L }, decoded.Inputs[1].Data);
        Assert.Equal(new[] { "x", "yz" }, decoded.Inputs[2].Data);
        Assert.Equal(new byte[] { 9, 8, 7 }, decoded.Inputs[3].Data);
    }

    [Fact]
    public void DecodeRequest_BodyInManySegments_DecodesAsOneBuffer()
    {
        var request = new InferenceRequest
        {
            Inputs =
            [
                new InferenceTensor("a", TensorDatatype.Fp64, [3], new[] { 1.5, -2.5, 1e300 }),
                new InferenceTensor("s", TensorDatatype.Bytes, [2], new[] { "hello", "w\u00f6rld" }),
                new InferenceTensor("j", TensorDatatype.Int32, [2], new[] { 5, 6 }),
            ],
        };
        var (body, headerLength) = WriteRequest(request, true, true, false);

        // Segments of 7 bytes: boundaries fall inside the JSON, inside elements and inside BYTES lengths.
        InferenceRequest decoded = BinaryTensorData.DecodeRequest(Segmented(body, 7), headerLength);

        Assert.Equal(new[] { 1.5, -2.5, 1e300 }, decoded.Inputs[0].Data);
        Assert.Equal(new[] { "hello", "w\u00f6rld" }, decoded.Inputs[1].Data);
        Assert.Equal(new[] { 5, 6 }, decoded.Inputs[2].Data);
    }

    [Fact]
    public void DecodeRequest_OtherTensorParameters_AreKeptWithoutBinaryDataSize()
    {
        byte[] body = Body(
            """{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"content_type":"str","binary_data_size":5}}]}""",
            out int headerLength, [1, 0, 0, 0, (byte)'q']);

        InferenceTensor s = Assert.Single(BinaryTensorData.DecodeRequest(body, headerLength).Inputs);

        Assert.Equal("str", Assert.Single(s.Parameters!).Value);
        Assert.Equal(new[] { "q" }, s.Data);
    }

    [Fact]
    public void DecodeRequest_HeaderLengthEqualsBody_IsAPlainJsonRequest()
    {
        byte[] json = """{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[-3]}]}"""u8.ToArray();

        InferenceRequest request = BinaryTensorData.DecodeRequest(json, json.Length);

        Assert.Equal(new sbyte[] { -3 }, Assert.Single(request.Inputs).Data);
    }

    [Fact]
    public void DecodeRequest_ZeroElementTensor_TakesZeroBytes()
    {
        byte[] body = Body(
            """{"inputs":[{"name":"e","shape":[0,4],"datatype":"FP32","parameters":{"binary_data_size":0}},{"name":"x","shape":[1],"datatype":"UINT16","parameters":{"binary_data_size":2}}]}""",
            out int headerLength, [0x34, 0x12]);

        InferenceRequest request = BinaryTensorData.DecodeRequest(body, headerLength);

        Assert.Empty(request.Inputs[0].Data);
        Assert.Equal(new ushort[] { 0x1234 }, request.Inputs[1].Data);
    }

    // ---- malformed bodies: each gives its own message ----------------------------------------------------------

    [Theory]
    [InlineData("abc", 10, "Inference-Header-Content-Length must be a non-negative integer, not 'abc'")]
    [InlineData("-1", 10, "Inference-Header-Content-Length must be a non-negative integer, not '-1'")]
    [InlineData("", 10, "Inference-Header-Content-Length must be a non-negative integer, not ''")]
    [InlineData("1.5", 10, "Inference-Header-Content-Length must be a non-negative integer, not '1.5'")]
    [InlineData("10,10", 30, "Inference-Header-Content-Length must be a non-negative integer, not '10,10'")]
    [InlineData("11", 10, "Inference-Header-Content-Length is 11 but the body has only 10 bytes")]
    public void ParseHeaderLength_BadValue_Rejected(string value, long bodyLength, string expected)
    {
        var e = Assert.Throws<InferenceProtocolException>(() => BinaryTensorData.ParseHeaderLength(value, bodyLength));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void ParseHeaderLength_ValidValue_ReturnsIt() =>
        Assert.Equal(10, BinaryTensorData.ParseHeaderLength("10", 10));

    [Fact]
    public void DecodeRequest_HeaderLengthLargerThanBody_Rejected()
    {
        var e = Assert.Throws<InferenceProtocolException>(() => BinaryTensorData.DecodeRequest(new byte[4], 5));
        Assert.Equal("Inference-Header-Content-Length is 5 but the body has only 4 bytes", e.Message);
    }

    /// <summary>JSON header, the binary part, the expected message.</summary>
    public static TheoryData<string, byte[], string> Malformed => new()
    {
        {
            """{"inputs":[{"name":"x","shape":[2],"datatype":"FP32"}]}""", new byte[8],
            "input 'x' has no 'data'"
        },
        {
            """{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","parameters":{"binary_data_size":8}}]}""", new byte[8],
            "input 'x': 'binary_data_size' is 8 bytes but shape [3] of FP32 needs 12 (4 per element)"
        },
        {
            """{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT64","parameters":{"binary_data_size":16}}]}""", new byte[16],
            "input 'x': 'binary_data_size' is 16 bytes but shape [2,2] of INT64 needs 32 (8 per element)"
        },
        {
            """{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}""", new byte[12],
            "the inputs' 'binary_data_size' add up to 8 bytes but 12 bytes of binary data follow the JSON header"
        },
        {
            """{"inputs":[{"name":"a","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":4}},{"name":"b","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}}]}""", new byte[10],
            "input 'b': 'binary_data_size' 8 goes past the end of the binary data (6 of 10 bytes left)"
        },
        {
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""", new byte[4],
            "the inputs' 'binary_data_size' add up to 0 bytes but 4 bytes of binary data follow the JSON header"
        },
        {
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1],"parameters":{"binary_data_size":4}}]}""", new byte[4],
            "input 'x': 'data' and 'binary_data_size' cannot both be given (binary data replaces 'data')"
        },
        {
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":4},"data":[1]}]}""", new byte[4],
            "input 'x': 'data' and 'binary_data_size' cannot both be given (binary data replaces 'data')"
        },
        {
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":-4}}]}""", new byte[4],
            "input 'x': parameter 'binary_data_size' must be a non-negative integer, not -4"
        },
        {
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":"4"}}]}""", new byte[4],
            "input 'x': parameter 'binary_data_size' must be a non-negative integer, not \"4\""
        },
        {
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":4.5}}]}""", new byte[4],
            "input 'x': parameter 'binary_data_size' must be a non-negative integer, not 4.5"
        },
        {
            """{"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}}]}""", new byte[] { 1, 2 },
            "input 'b': BOOL element 1 is 2, not 0 or 1"
        },
        {
            """{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}""", new byte[] { 100, 0, 0, 0, 1, 2 },
            "input 's': BYTES element 0 has length 100 but only 2 bytes of the tensor's binary data are left"
        },
        {
            """{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":4}}]}""", new byte[] { 0xFF, 0xFF, 0xFF, 0xFF },
            "input 's': BYTES element 0 has length 4294967295 but only 0 bytes of the tensor's binary data are left"
        },
        {
            """{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":10}}]}""", new byte[] { 1, 0, 0, 0, 65, 9, 0, 0, 0, 66 },
            "input 's': BYTES element 1 has length 9 but only 1 bytes of the tensor's binary data are left"
        },
        {
            """{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":7}}]}""", new byte[] { 1, 0, 0, 0, 65, 1, 0 },
            "input 's': 'binary_data_size' 7 cannot hold 2 BYTES elements (each has a 4-byte length)"
        },
        {
            """{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}""", new byte[] { 1, 0, 0, 0, 65, 1, 0, 0 },
            "input 's': BYTES element 1: the binary data ends inside its 4-byte length"
        },
        {
            """{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":7}}]}""", new byte[] { 1, 0, 0, 0, 65, 66, 67 },
            "input 's': BYTES binary data has 2 bytes left after its 1 elements"
        },
        {
            """{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}""", new byte[] { 2, 0, 0, 0, 0xC3, 0x28 },
            "input 's': BYTES element 0 is not valid UTF-8"
        },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void DecodeRequest_MalformedBinary_RejectedWithSpecificError(string json, byte[] binary, string expected)
    {
        byte[] body = Body(json, out int headerLength, binary);

        var e = Assert.Throws<InferenceProtocolException>(() => BinaryTensorData.DecodeRequest(body, headerLength));

        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void DecodeRequest_BinaryDataSizeInPlainJsonRequest_Rejected()
    {
        byte[] json = """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":4}}]}"""u8.ToArray();

        var e = Assert.Throws<InferenceProtocolException>(() => V2JsonCodec.DecodeRequest(json));

        Assert.Equal("input 'x': 'binary_data_size' is 4 but no binary data follows the JSON (no Inference-Header-Content-Length header)", e.Message);
    }

    [Fact]
    public void DecodeRequest_HeaderCutInsideTheJson_IsNotValidJson()
    {
        byte[] json = """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}"""u8.ToArray();

        var e = Assert.Throws<InferenceProtocolException>(() => BinaryTensorData.DecodeRequest(json, json.Length - 3));

        Assert.StartsWith("request body is not valid JSON", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeRequest_NullBinaryDataSizeWithData_IsPlainJson()
    {
        byte[] json = """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1],"parameters":{"binary_data_size":null}}]}"""u8.ToArray();

        InferenceTensor x = Assert.Single(BinaryTensorData.DecodeRequest(json, json.Length).Inputs);

        Assert.Equal(new[] { 1 }, x.Data);
    }

    // ---- which outputs go binary -------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"inputs":[]}""", null)]
    [InlineData("""{"parameters":{"binary_data_output":true},"inputs":[]}""", "a,b")]
    [InlineData("""{"parameters":{"binary_data_output":false},"inputs":[]}""", null)]
    [InlineData("""{"parameters":{"binary_data_output":"true"},"inputs":[]}""", null)]
    [InlineData("""{"outputs":[{"name":"a"},{"name":"b"}],"inputs":[]}""", null)]
    [InlineData("""{"outputs":[{"name":"b","parameters":{"binary_data":true}}],"inputs":[]}""", "b")]
    [InlineData("""{"parameters":{"binary_data_output":true},"outputs":[{"name":"a","parameters":{"binary_data":false}},{"name":"b"}],"inputs":[]}""", "b")]
    [InlineData("""{"parameters":{"binary_data_output":true},"outputs":[{"name":"a","parameters":{"binary_data":false}},{"name":"b","parameters":{"binary_data":false}}],"inputs":[]}""", null)]
    public void SelectBinaryOutputs_RequestAndOutputFlags_PickOutputs(string requestJson, string? expected)
    {
        // The decoder needs an input; the flags are what matters here.
        var request = V2JsonCodec.DecodeRequest(Encoding.UTF8.GetBytes(
            requestJson.Replace("\"inputs\":[]", "\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1]}]", StringComparison.Ordinal)));
        var response = new InferenceResponse
        {
            ModelName = "m",
            Outputs = [new InferenceTensor("a", TensorDatatype.Int32, [1], new[] { 1 }), new InferenceTensor("b", TensorDatatype.Int32, [1], new[] { 2 })],
        };

        bool[]? binary = BinaryTensorData.SelectBinaryOutputs(request, response);

        string? selected = binary is null ? null : string.Join(',', response.Outputs.Where((_, i) => binary[i]).Select(o => o.Name));
        Assert.Equal(expected, selected);
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private static (byte[] Body, int HeaderLength) WriteRequest(InferenceRequest request, params bool[] binary)
    {
        var buffer = new ArrayBufferWriter<byte>();
        int headerLength = BinaryTensorData.WriteRequest(buffer, request, binary);
        return (buffer.WrittenSpan.ToArray(), headerLength);
    }

    private static byte[] Body(string json, out int headerLength, params byte[][] binary)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        headerLength = header.Length;
        return [.. header, .. binary.SelectMany(b => b)];
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int size)
    {
        Segment? first = null;
        Segment? last = null;
        for (int at = 0; at < bytes.Length; at += size)
        {
            var next = new Segment(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)), at);
            last?.Link(next);
            first ??= next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void Link(Segment next) => Next = next;
    }
}
