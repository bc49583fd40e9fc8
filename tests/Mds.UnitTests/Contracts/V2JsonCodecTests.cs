using System.Buffers;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Contracts;

public class V2JsonCodecTests
{
    // ---- every datatype ---------------------------------------------------------------------------------------

    /// <summary>datatype, JSON data for shape [3], the typed array it must decode to.</summary>
    public static TheoryData<string, string, Array> EveryDatatype => new()
    {
        { "BOOL", "[true,false,true]", new[] { true, false, true } },
        { "UINT8", "[0,1,255]", new byte[] { 0, 1, byte.MaxValue } },
        { "UINT16", "[0,1,65535]", new ushort[] { 0, 1, ushort.MaxValue } },
        { "UINT32", "[0,1,4294967295]", new uint[] { 0, 1, uint.MaxValue } },
        { "UINT64", "[0,1,18446744073709551615]", new ulong[] { 0, 1, ulong.MaxValue } },
        { "INT8", "[-128,0,127]", new sbyte[] { sbyte.MinValue, 0, sbyte.MaxValue } },
        { "INT16", "[-32768,0,32767]", new short[] { short.MinValue, 0, short.MaxValue } },
        { "INT32", "[-2147483648,0,2147483647]", new[] { int.MinValue, 0, int.MaxValue } },
        { "INT64", "[-9223372036854775808,0,9223372036854775807]", new[] { long.MinValue, 0L, long.MaxValue } },
        { "FP16", "[0.5,-65504,65504]", new[] { (Half)0.5, Half.MinValue, Half.MaxValue } },
        { "FP16", "[0.1,5.9604645E-08,-0.0]", new[] { (Half)0.1, Half.Epsilon, Half.NegativeZero } },
        { "BF16", "[0.5,-3.39E+38,3.39E+38]", new[] { (BFloat16)0.5f, BFloat16.MinValue, BFloat16.MaxValue } },
        { "BF16", "[0.1,9E-41,-0.0]", new[] { (BFloat16)0.1f, BFloat16.Epsilon, BFloat16.FromBits(0x8000) } },
        { "BF16", "[\"NaN\",\"Infinity\",\"-Infinity\"]", new[] { BFloat16.NaN, BFloat16.PositiveInfinity, BFloat16.NegativeInfinity } },
        { "FP32", "[0.1,-3.4028235E+38,1E-45]", new[] { 0.1f, float.MinValue, float.Epsilon } },
        { "FP32", "[1,2.5e3,-7]", new[] { 1f, 2500f, -7f } },
        { "FP64", "[0.1,1.7976931348623157E+308,5E-324]", new[] { 0.1, double.MaxValue, double.Epsilon } },
        { "FP64", "[-1.7976931348623157e308,3,1e-10]", new[] { double.MinValue, 3.0, 1e-10 } },
        { "FP16", "[\"NaN\",\"Infinity\",\"-Infinity\"]", new[] { Half.NaN, Half.PositiveInfinity, Half.NegativeInfinity } },
        { "FP32", "[\"NaN\",\"Infinity\",\"-Infinity\"]", new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity } },
        { "FP64", "[\"NaN\",\"Infinity\",\"-Infinity\"]", new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity } },
        { "BYTES", "[\"\",\"h\u00e9llo\",\"\u65e5\u672c\u8a9e \ud83d\ude00\"]", new[] { "", "h\u00e9llo", "\u65e5\u672c\u8a9e \ud83d\ude00" } },
        { "BYTES", "[\"a\\\"b\",\"line\\nbreak\",\"\\u00e9\\ud83d\\ude00\"]", new[] { "a\"b", "line\nbreak", "\u00e9\ud83d\ude00" } },
    };

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void DecodeRequest_EachDatatype_DecodesIntoTypedArray(string datatype, string data, Array expected)
    {
        InferenceTensor tensor = Assert.Single(Decode(Request(datatype, "[3]", data)).Inputs);

        Assert.Equal("x", tensor.Name);
        Assert.Equal(datatype, tensor.Datatype.ToWireName());
        Assert.Equal([3L], tensor.Shape);
        Assert.IsType(expected.GetType(), tensor.Data);
        Assert.Equal(expected, tensor.Data);
    }

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void DecodeRequest_BodySplitIntoOneByteSegments_DecodesTheSameValues(string datatype, string data, Array expected)
    {
        ReadOnlySequence<byte> body = OneByteSegments(Encoding.UTF8.GetBytes(Request(datatype, "[3]", data)));

        InferenceTensor tensor = Assert.Single(V2JsonCodec.DecodeRequest(body).Inputs);

        Assert.IsType(expected.GetType(), tensor.Data);
        Assert.Equal(expected, tensor.Data);
    }

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void WriteResponse_ThenDecodeResponse_RoundTripsEachDatatype(string datatype, string data, Array expected)
    {
        _ = data;
        var response = new InferenceResponse
        {
            ModelName = "m",
            Outputs = [new InferenceTensor("y", TensorDatatypes.Parse(datatype), [3], expected)],
        };

        InferenceTensor output = Assert.Single(V2JsonCodec.DecodeResponse(Write(response)).Outputs);

        Assert.Equal("y", output.Name);
        Assert.Equal(datatype, output.Datatype.ToWireName());
        Assert.Equal([3L], output.Shape);
        Assert.IsType(expected.GetType(), output.Data);
        Assert.Equal(expected, output.Data);
    }

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void WriteRequest_ThenDecodeRequest_RoundTripsEachDatatype(string datatype, string data, Array expected)
    {
        _ = data;
        var request = new InferenceRequest { Inputs = [new InferenceTensor("in", TensorDatatypes.Parse(datatype), [3, 1], expected)] };

        InferenceTensor input = Assert.Single(V2JsonCodec.DecodeRequest(Write(request)).Inputs);

        Assert.Equal("in", input.Name);
        Assert.Equal([3L, 1L], input.Shape);
        Assert.Equal(expected, input.Data);
    }

    [Fact]
    public void Writing_reuses_one_writer_per_thread_without_keeping_the_last_destination_alive()
    {
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Fp32, [2], new float[] { 1, 2 })] };
        var first = WriteIntoNewBuffer(response);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(first.Buffer.TryGetTarget(out _), "the cached writer still references a destination it finished writing");

        var second = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteResponse(second, response); // the same thread's writer, now pointed at another destination
        Assert.Equal(first.Text, Encoding.UTF8.GetString(second.WrittenSpan));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (WeakReference<ArrayBufferWriter<byte>> Buffer, string Text) WriteIntoNewBuffer(InferenceResponse response)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 20);
        V2JsonCodec.WriteResponse(buffer, response);
        return (new WeakReference<ArrayBufferWriter<byte>>(buffer), Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public void WriteResponse_ThenDecodeResponse_RoundTripsALargeRandomTensorExactly()
    {
        var random = new Random(12345);
        var values = new float[64 * 1024];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-30, 30)));
        }

        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Fp32, [256, 256], values)] };

        InferenceTensor output = Assert.Single(V2JsonCodec.DecodeResponse(Write(response)).Outputs);

        Assert.Equal(values, (float[])output.Data);
    }

    // ---- shapes and nesting -----------------------------------------------------------------------------------

    [Theory]
    [InlineData("[2,3]", "[[1,2,3],[4,5,6]]", new[] { 1, 2, 3, 4, 5, 6 })]
    [InlineData("[2,3]", "[1,2,3,4,5,6]", new[] { 1, 2, 3, 4, 5, 6 })]
    [InlineData("[3,2]", "[[1,2],[3,4],[5,6]]", new[] { 1, 2, 3, 4, 5, 6 })]
    [InlineData("[2,2,2]", "[[[1,2],[3,4]],[[5,6],[7,8]]]", new[] { 1, 2, 3, 4, 5, 6, 7, 8 })]
    [InlineData("[2,2,2]", "[1,2,3,4,5,6,7,8]", new[] { 1, 2, 3, 4, 5, 6, 7, 8 })]
    [InlineData("[1,1]", "[[5]]", new[] { 5 })]
    [InlineData("[3,1]", "[[1],[2],[3]]", new[] { 1, 2, 3 })]
    [InlineData("[1,1,1,1,2]", "[[[[[1,2]]]]]", new[] { 1, 2 })]
    [InlineData("[2,0]", "[[],[]]", new int[0])]
    [InlineData("[2,0]", "[]", new int[0])]
    [InlineData("[0,3]", "[]", new int[0])]
    public void DecodeRequest_FlatOrNestedData_DecodesRowMajor(string shape, string data, int[] expected)
    {
        InferenceTensor tensor = Assert.Single(Decode(Request("INT32", shape, data)).Inputs);

        Assert.Equal(expected, (int[])tensor.Data);
    }

    [Theory]
    [InlineData("BOOL", "[[true],[false]]")]
    [InlineData("FP16", "[[1.5],[\"NaN\"]]")]
    [InlineData("BYTES", "[[\"a\"],[\"b\"]]")]
    [InlineData("UINT64", "[[18446744073709551615],[0]]")]
    public void DecodeRequest_NestedDataOfAnyDatatype_DecodesBothElements(string datatype, string data)
    {
        InferenceTensor tensor = Assert.Single(Decode(Request(datatype, "[2,1]", data)).Inputs);

        Assert.Equal(2, tensor.Data.Length);
        Assert.Equal([2L, 1L], tensor.Shape);
    }

    [Fact]
    public void DecodeRequest_ScalarShape_DecodesOneElement()
    {
        InferenceTensor tensor = Assert.Single(Decode(Request("INT64", "[]", "[7]")).Inputs);

        Assert.Empty(tensor.Shape);
        Assert.Equal([7L], (long[])tensor.Data);
    }

    [Theory]
    [InlineData("INT32")]
    [InlineData("BYTES")]
    [InlineData("FP16")]
    public void DecodeRequest_EmptyTensor_DecodesEmptyTypedArray(string datatype)
    {
        InferenceTensor tensor = Assert.Single(Decode(Request(datatype, "[0]", "[]")).Inputs);

        Assert.Equal([0L], tensor.Shape);
        Assert.Empty(tensor.Data);
        Assert.Equal(TensorDatatypes.Parse(datatype).ElementType(), tensor.Data.GetType().GetElementType());
    }

    [Theory]
    [InlineData("[2,3]", "[1,2,3,4,5]", "input 'x': expected 6 elements for shape [2,3] but got 5")]
    [InlineData("[2,3]", "[1,2,3,4,5,6,7]", "input 'x': expected 6 elements for shape [2,3] but got 7")]
    [InlineData("[3]", "[]", "input 'x': expected 3 elements for shape [3] but got 0")]
    [InlineData("[0]", "[1]", "input 'x': expected 0 elements for shape [0] but got 1")]
    [InlineData("[]", "[]", "input 'x': expected 1 element for shape [] but got 0")]
    [InlineData("[]", "[1,2]", "input 'x': expected 1 element for shape [] but got 2")]
    public void DecodeRequest_ElementCountDiffersFromShape_FailsWithCounts(string shape, string data, string message)
    {
        AssertDecodeFails(Request("INT32", shape, data), message);
    }

    [Theory]
    [InlineData("[100000000]", "[1,2]", "input 'x': expected 100000000 elements for shape [100000000] but got 2")]
    [InlineData("[10000,10000]", "[[1,2],[3]]", "input 'x': expected 100000000 elements for shape [10000,10000] but got 3")]
    public void DecodeRequest_ShapeFarLargerThanTheBody_FailsWithCountsWithoutAllocating(string shape, string data, string message)
    {
        AssertDecodeFails(Request("FP64", shape, data), message);
    }

    [Theory]
    [InlineData("[2,3]", "[[1,2,3],[4,5]]", "input 'x': nested 'data' does not match shape [2,3]: an array at dimension 1 has 2 elements, expected 3")]
    [InlineData("[2,3]", "[[1,2,3],[4,5,6,7]]", "input 'x': nested 'data' does not match shape [2,3]: an array at dimension 1 has more than 3 elements")]
    [InlineData("[2,3]", "[[1,2,3],[4,5,6],[7,8,9]]", "input 'x': nested 'data' does not match shape [2,3]: an array at dimension 0 has more than 2 elements")]
    [InlineData("[2,3]", "[[1,2,3]]", "input 'x': nested 'data' does not match shape [2,3]: an array at dimension 0 has 1 element, expected 2")]
    [InlineData("[3,2]", "[[1,2,3],[4,5,6]]", "input 'x': nested 'data' does not match shape [3,2]: an array at dimension 1 has more than 2 elements")]
    [InlineData("[2,3]", "[[[1],[2],[3]],[[4],[5],[6]]]", "input 'x': 'data' is nested deeper than shape [2,3]")]
    [InlineData("[2,3]", "[[1,2,3],[4,[5],6]]", "input 'x': 'data' is nested deeper than shape [2,3]")]
    [InlineData("[6]", "[[1,2,3],[4,5,6]]", "input 'x': 'data' is nested deeper than shape [6]")]
    [InlineData("[]", "[[1]]", "input 'x': 'data' is nested deeper than shape []")]
    [InlineData("[2,3]", "[1,2,3,[4,5,6]]", "input 'x': 'data' mixes nested arrays and flat elements (shape [2,3])")]
    [InlineData("[2,3]", "[[1,2,3],4,5,6]", "input 'x': 'data' mixes nested arrays and flat elements (shape [2,3])")]
    [InlineData("[2,2,2]", "[[1,2],[3,4]]", "input 'x': 'data' mixes nested arrays and flat elements (shape [2,2,2])")]
    [InlineData("[2,3]", "[1,2,3,4,5,6,[7]]", "input 'x': 'data' mixes nested arrays and flat elements (shape [2,3])")]
    public void DecodeRequest_NestingDoesNotMatchShape_Fails(string shape, string data, string message)
    {
        AssertDecodeFails(Request("INT32", shape, data), message);
    }

    [Theory]
    [InlineData("[-1]", "input 'x': shape dimension 0 must be a non-negative integer, not -1")]
    [InlineData("[2,1.5]", "input 'x': shape dimension 1 must be a non-negative integer, not 1.5")]
    [InlineData("[\"2\"]", "input 'x': shape dimension 0 must be a non-negative integer, not \"2\"")]
    [InlineData("[null]", "input 'x': shape dimension 0 must be a non-negative integer, not null")]
    [InlineData("[[2]]", "input 'x': shape dimension 0 must be a non-negative integer, not an array")]
    [InlineData("[1e20]", "input 'x': shape dimension 0 must be a non-negative integer, not 1e20")]
    [InlineData("5", "input 'x': 'shape' must be an array of non-negative integers, not 5")]
    [InlineData("null", "input 'x': 'shape' must be an array of non-negative integers, not null")]
    [InlineData("[100000000000,100000000000]", "input 'x': shape [100000000000,100000000000] has too many elements")]
    [InlineData("[9223372036854775807,2,0]", "input 'x': shape [9223372036854775807,2,0] has too many elements")]
    public void DecodeRequest_InvalidShape_Fails(string shape, string message)
    {
        AssertDecodeFails(Request("INT32", shape, "[1]"), message);
    }

    // ---- element kinds and ranges -----------------------------------------------------------------------------

    [Theory]
    [InlineData("UINT8", "256")]
    [InlineData("UINT8", "-1")]
    [InlineData("UINT16", "65536")]
    [InlineData("UINT32", "4294967296")]
    [InlineData("UINT32", "-1")]
    [InlineData("UINT64", "18446744073709551616")]
    [InlineData("UINT64", "-1")]
    [InlineData("INT8", "128")]
    [InlineData("INT8", "-129")]
    [InlineData("INT16", "32768")]
    [InlineData("INT16", "-32769")]
    [InlineData("INT32", "2147483648")]
    [InlineData("INT32", "-2147483649")]
    [InlineData("INT64", "9223372036854775808")]
    [InlineData("INT64", "-9223372036854775809")]
    [InlineData("INT32", "1.5")]
    [InlineData("INT32", "1.0")]
    [InlineData("INT64", "1e3")]
    [InlineData("UINT8", "2E1")]
    [InlineData("FP16", "70000")]
    [InlineData("FP32", "3.5e38")]
    [InlineData("FP32", "-1e39")]
    [InlineData("FP64", "1e309")]
    public void DecodeRequest_NumberOutOfRangeOrNotAnInteger_FailsNamingTheElement(string datatype, string value)
    {
        AssertDecodeFails(Request(datatype, "[2]", $"[0,{value}]"), $"input 'x': element 1 is not a valid {datatype} ({value})");
    }

    [Theory]
    [InlineData("BOOL", "1", "1")]
    [InlineData("BOOL", "\"true\"", "\"true\"")]
    [InlineData("BOOL", "null", "null")]
    [InlineData("UINT8", "true", "true")]
    [InlineData("INT32", "\"1\"", "\"1\"")]
    [InlineData("INT32", "{}", "an object")]
    [InlineData("INT64", "null", "null")]
    [InlineData("FP16", "false", "false")]
    [InlineData("FP32", "\"abc\"", "\"abc\"")]
    [InlineData("FP32", "\"nan\"", "\"nan\"")]
    [InlineData("FP32", "\"inf\"", "\"inf\"")]
    [InlineData("FP64", "\"+Infinity\"", "\"+Infinity\"")]
    [InlineData("FP64", "null", "null")]
    [InlineData("FP64", "{\"a\":1}", "an object")]
    [InlineData("BYTES", "5", "5")]
    [InlineData("BYTES", "null", "null")]
    [InlineData("BYTES", "true", "true")]
    public void DecodeRequest_ElementOfTheWrongJsonKind_FailsNamingTheElement(string datatype, string element, string shown)
    {
        AssertDecodeFails(Request(datatype, "[1]", $"[{element}]"), $"input 'x': element 0 is not a valid {datatype} ({shown})");
    }

    [Fact]
    public void DecodeRequest_BadElementInNestedData_ReportsItsRowMajorIndex()
    {
        AssertDecodeFails(Request("UINT8", "[2,2]", "[[1,2],[3,300]]"), "input 'x': element 3 is not a valid UINT8 (300)");
    }

    [Fact]
    public void DecodeRequest_LongBadValue_IsShortenedInTheMessage()
    {
        string longText = new('a', 500);

        var error = Assert.Throws<InferenceProtocolException>(() => Decode(Request("INT32", "[1]", $"[\"{longText}\"]")));

        Assert.StartsWith("input 'x': element 0 is not a valid INT32 (\"aaaa", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 150, error.Message);
    }

    [Theory]
    [InlineData("FP8")]
    [InlineData("fp32")]
    [InlineData("STRING")]
    [InlineData("INT128")]
    [InlineData("")]
    [InlineData("FLOAT32_IS_NOT_A_V2_DATATYPE")]
    public void DecodeRequest_UnknownDatatype_FailsNamingIt(string datatype)
    {
        AssertDecodeFails(Request(datatype, "[1]", "[1]"), $"input 'x': unsupported datatype '{datatype}'");
    }

    [Fact]
    public void DecodeRequest_DatatypeNotAString_Fails()
    {
        AssertDecodeFails(
            """{"inputs":[{"name":"x","shape":[1],"datatype":5,"data":[1]}]}""",
            "input 'x': 'datatype' must be a string, not 5");
    }

    [Fact]
    public void DecodeRequest_DataNotAnArray_Fails()
    {
        AssertDecodeFails(Request("INT32", "[]", "7"), "input 'x': 'data' must be an array, not 7");
    }

    // ---- required fields and body shape -----------------------------------------------------------------------

    [Theory]
    [InlineData("""{"shape":[1],"datatype":"INT32","data":[1]}""", "input #0 has no 'name'")]
    [InlineData("""{"name":"x","datatype":"INT32","data":[1]}""", "input 'x' has no 'shape'")]
    [InlineData("""{"name":"x","shape":[1],"data":[1]}""", "input 'x' has no 'datatype'")]
    [InlineData("""{"name":"x","shape":[1],"datatype":"INT32"}""", "input 'x' has no 'data'")]
    [InlineData("""{"name":5,"shape":[1],"datatype":"INT32","data":[1]}""", "input #0: 'name' must be a string, not 5")]
    [InlineData("""{"name":null,"shape":[1],"datatype":"INT32","data":[1]}""", "input #0: 'name' must be a string, not null")]
    public void DecodeRequest_TensorFieldMissingOrWrong_FailsNamingTheTensor(string tensor, string message)
    {
        AssertDecodeFails($$"""{"inputs":[{{tensor}}]}""", message);
    }

    [Fact]
    public void DecodeRequest_SecondInputHasNoName_ReportsItsPosition()
    {
        AssertDecodeFails(
            """{"inputs":[{"name":"a","shape":[1],"datatype":"INT32","data":[1]},{"shape":[1],"datatype":"INT32","data":[1]}]}""",
            "input #1 has no 'name'");
    }

    [Theory]
    [InlineData("{}", "request has no 'inputs'")]
    [InlineData("""{"id":"1","outputs":[{"name":"y"}]}""", "request has no 'inputs'")]
    [InlineData("""{"inputs":[]}""", "request: 'inputs' is empty")]
    [InlineData("""{"inputs":{}}""", "request: 'inputs' must be an array")]
    [InlineData("""{"inputs":null}""", "request: 'inputs' must be an array")]
    [InlineData("""{"inputs":[5]}""", "input #0 must be a JSON object")]
    [InlineData("""{"inputs":[[]]}""", "input #0 must be a JSON object")]
    public void DecodeRequest_InputsMissingOrMalformed_Fails(string json, string message)
    {
        AssertDecodeFails(json, message);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"inputs\":[]}]")]
    [InlineData("\"inputs\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("true")]
    public void DecodeRequest_BodyIsNotAnObject_Fails(string json)
    {
        AssertDecodeFails(json, "request body must be a JSON object");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("{'inputs':[]}")]
    [InlineData("{\"inputs\":[}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",}]}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1,]}]}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1]}]} trailing")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1]}]}{}")]
    [InlineData("{\"inputs\":[] /* comment */}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[01]}]}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[NaN]}]}")]
    public void DecodeRequest_MalformedJson_FailsAsProtocolError(string json)
    {
        var error = Assert.Throws<InferenceProtocolException>(() => Decode(json));

        Assert.StartsWith("request body is not valid JSON: ", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<JsonException>(error.InnerException);
    }

    [Fact]
    public void DecodeRequest_EveryTruncationOfAValidBody_FailsAsInvalidJson()
    {
        byte[] body = Encoding.UTF8.GetBytes(
            """{"id":"r","parameters":{"a":1},"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1.5,"NaN"],[3,4]]}],"outputs":[{"name":"y"}]}""");

        for (int length = 0; length < body.Length; length++)
        {
            byte[] prefix = body[..length];
            var error = Assert.Throws<InferenceProtocolException>(() => V2JsonCodec.DecodeRequest(prefix));
            Assert.StartsWith("request body is not valid JSON: ", error.Message, StringComparison.Ordinal);
        }

        Assert.Single(V2JsonCodec.DecodeRequest(body).Inputs);
    }

    [Fact]
    public void DecodeRequest_CorruptedBodies_OnlyEverThrowProtocolErrors()
    {
        byte[] body = Encoding.UTF8.GetBytes(
            """{"id":"r","inputs":[{"name":"x","shape":[2,2],"datatype":"INT16","data":[[1,-2],[3,4]]},{"name":"s","shape":[1],"datatype":"BYTES","data":["t"]}]}""");
        byte[] replacements = "0 9-.,:[]{}\"\\ae\u00ff"u8.ToArray();
        int failures = 0;

        for (int position = 0; position < body.Length; position++)
        {
            foreach (byte replacement in replacements)
            {
                byte[] corrupted = (byte[])body.Clone();
                corrupted[position] = replacement;
                try
                {
                    V2JsonCodec.DecodeRequest(corrupted);
                }
                catch (InferenceProtocolException e)
                {
                    Assert.False(string.IsNullOrWhiteSpace(e.Message));
                    failures++;
                }
            }
        }

        Assert.True(failures > body.Length, $"only {failures} corruptions were rejected");
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xC3 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    public void DecodeRequest_InvalidUtf8InAString_FailsAsInvalidJson(byte[] invalid)
    {
        byte[] body = [.. """{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"""u8, .. invalid, .. "\"]}]}"u8];

        var error = Assert.Throws<InferenceProtocolException>(() => V2JsonCodec.DecodeRequest(body));

        Assert.StartsWith("request body is not valid JSON: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeRequest_LoneSurrogateEscapeInBytes_FailsAsInvalidJson()
    {
        var error = Assert.Throws<InferenceProtocolException>(() => Decode(Request("BYTES", "[1]", "[\"\\ud800\"]")));

        Assert.StartsWith("request body is not valid JSON: ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"inputs":[{"name":"x","name":"y","shape":[1],"datatype":"INT32","data":[1]}]}""", "input 'x': 'name' appears more than once")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1],"data":[2]}]}""", "input 'x': 'data' appears more than once")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1],"shape":[1],"datatype":"INT32","data":[1]}]}""", "input 'x': 'shape' appears more than once")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}],"inputs":[]}""", "request: 'inputs' appears more than once")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]},{"name":"x","shape":[1],"datatype":"INT32","data":[2]}]}""", "input 'x' appears more than once")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}],"outputs":[{"name":"y"},{"name":"y"}]}""", "requested output 'y' appears more than once")]
    [InlineData("""{"parameters":{"a":1,"a":2},"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""", "request: parameter 'a' appears more than once")]
    public void DecodeRequest_DuplicateProperty_Fails(string json, string message)
    {
        AssertDecodeFails(json, message);
    }

    // ---- property order and unknown properties ---------------------------------------------------------------

    [Fact]
    public void DecodeRequest_PropertiesInAlphabeticalOrder_DecodesTheSameTensor()
    {
        InferenceTensor tensor = Assert.Single(
            Decode("""{"inputs":[{"data":[[1.5,2],[3,4]],"datatype":"FP32","name":"x","parameters":{"p":1},"shape":[2,2]}]}""").Inputs);

        Assert.Equal("x", tensor.Name);
        Assert.Equal([2L, 2L], tensor.Shape);
        Assert.Equal([1.5f, 2f, 3f, 4f], (float[])tensor.Data);
        Assert.Equal(1L, tensor.Parameters!["p"]);
    }

    [Fact]
    public void DecodeRequest_DataBeforeDatatype_DecodesTheSameTensor()
    {
        InferenceTensor tensor = Assert.Single(
            Decode("""{"inputs":[{"name":"x","shape":[3],"data":[1,2,255],"datatype":"UINT8"}]}""").Inputs);

        Assert.Equal(new byte[] { 1, 2, 255 }, (byte[])tensor.Data);
    }

    [Theory]
    [InlineData("""{"data":[1,2],"datatype":"INT32","shape":[3],"name":"late"}""", "input 'late': expected 3 elements for shape [3] but got 2")]
    [InlineData("""{"data":[1,300],"datatype":"UINT8","shape":[2],"name":"late"}""", "input 'late': element 1 is not a valid UINT8 (300)")]
    [InlineData("""{"shape":[-1],"datatype":"INT32","data":[1],"name":"late"}""", "input 'late': shape dimension 0 must be a non-negative integer, not -1")]
    [InlineData("""{"datatype":"FP8","shape":[1],"data":[1],"name":"late"}""", "input 'late': unsupported datatype 'FP8'")]
    [InlineData("""{"datatype":"FP8","shape":[1],"data":[1]}""", "input #0: unsupported datatype 'FP8'")]
    public void DecodeRequest_ErrorBeforeTheNameIsRead_StillNamesTheTensor(string tensor, string message)
    {
        AssertDecodeFails($$"""{"inputs":[{{tensor}}]}""", message);
    }

    [Fact]
    public void DecodeRequest_UnknownProperties_AreIgnored()
    {
        InferenceRequest request = Decode(
            """
            {
              "extension": {"deep": [1, {"x": [2, 3]}], "flag": true},
              "inputs": [
                {"name": "x", "unknown": [[1], {"a": null}], "shape": [1], "datatype": "INT8", "data": [-5], "more": "x"}
              ],
              "trailing": "ignored"
            }
            """);

        InferenceTensor tensor = Assert.Single(request.Inputs);
        Assert.Equal(new sbyte[] { -5 }, (sbyte[])tensor.Data);
        Assert.Null(request.Parameters);
        Assert.Null(request.Outputs);
    }

    [Fact]
    public void DecodeRequest_EscapedPropertyNamesAndDatatype_AreUnderstood()
    {
        InferenceTensor tensor = Assert.Single(
            Decode("""{"\u0069nputs":[{"n\u0061me":"x","shape":[1],"datatype":"\u0046P32","d\u0061ta":[2]}]}""").Inputs);

        Assert.Equal(TensorDatatype.Fp32, tensor.Datatype);
        Assert.Equal([2f], (float[])tensor.Data);
    }

    [Fact]
    public void DecodeRequest_SeveralInputs_KeepsRequestOrder()
    {
        InferenceRequest request = Decode(
            """{"inputs":[{"name":"b","shape":[1],"datatype":"BOOL","data":[true]},{"name":"a","shape":[2],"datatype":"BYTES","data":["p","q"]}]}""");

        Assert.Equal(["b", "a"], request.Inputs.Select(i => i.Name));
        Assert.Equal([true], (bool[])request.Inputs[0].Data);
        Assert.Equal(["p", "q"], (string[])request.Inputs[1].Data);
    }

    // ---- id, parameters, requested outputs --------------------------------------------------------------------

    [Theory]
    [InlineData("""{"id":"req-42","inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""", "req-42")]
    [InlineData("""{"id":"","inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""", "")]
    [InlineData("""{"id":null,"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""", null)]
    [InlineData("""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""", null)]
    public void DecodeRequest_Id_IsReadWhenPresent(string json, string? id)
    {
        Assert.Equal(id, Decode(json).Id);
    }

    [Fact]
    public void DecodeRequest_IdNotAString_Fails()
    {
        AssertDecodeFails("""{"id":42,"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""", "request: 'id' must be a string, not 42");
    }

    [Fact]
    public void DecodeRequest_ParametersOfEachKind_DecodeToStringBoolLongDoubleOrNull()
    {
        InferenceRequest request = Decode(
            """
            {"parameters": {"s": "text", "t": true, "f": false, "i": 42, "neg": -7, "d": 1.5, "e": 1e300, "whole": 2.0,
                            "n": null, "huge": 18446744073709551616},
             "inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1]}]}
            """);

        IReadOnlyDictionary<string, object?> parameters = request.Parameters!;
        Assert.Equal(10, parameters.Count);
        Assert.Equal("text", Assert.IsType<string>(parameters["s"]));
        Assert.True(Assert.IsType<bool>(parameters["t"]));
        Assert.False(Assert.IsType<bool>(parameters["f"]));
        Assert.Equal(42L, Assert.IsType<long>(parameters["i"]));
        Assert.Equal(-7L, Assert.IsType<long>(parameters["neg"]));
        Assert.Equal(1.5, Assert.IsType<double>(parameters["d"]));
        Assert.Equal(1e300, Assert.IsType<double>(parameters["e"]));
        Assert.Equal(2.0, Assert.IsType<double>(parameters["whole"]));
        Assert.Equal(18446744073709551616.0, Assert.IsType<double>(parameters["huge"]));
        Assert.True(parameters.ContainsKey("n"));
        Assert.Null(parameters["n"]);
    }

    [Theory]
    [InlineData("""{"p":{"a":1}}""", "request: parameter 'p' must be a string, number, boolean or null, not an object")]
    [InlineData("""{"p":[1,2]}""", "request: parameter 'p' must be a string, number, boolean or null, not an array")]
    [InlineData("""{"p":1e400}""", "request: parameter 'p' is out of range (1e400)")]
    [InlineData("5", "request: 'parameters' must be a JSON object, not 5")]
    [InlineData("[]", "request: 'parameters' must be a JSON object, not an array")]
    public void DecodeRequest_RequestParameterNotAScalar_Fails(string parameters, string message)
    {
        AssertDecodeFails(
            $$"""{"parameters":{{parameters}},"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""",
            message);
    }

    [Fact]
    public void DecodeRequest_NullParameters_AreAbsent()
    {
        Assert.Null(Decode("""{"parameters":null,"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""").Parameters);
    }

    [Fact]
    public void DecodeRequest_TensorParameters_AreReadOntoTheTensor()
    {
        InferenceTensor tensor = Assert.Single(Decode(
            """{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","parameters":{"content_type":"str","binary_data_size":null},"data":["a"]}]}""").Inputs);

        Assert.Equal("str", tensor.Parameters!["content_type"]);
        Assert.Null(tensor.Parameters["binary_data_size"]);
    }

    [Fact]
    public void DecodeRequest_NestedTensorParameter_FailsNamingTheTensor()
    {
        AssertDecodeFails(
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"p":{"q":1}},"data":[1]}]}""",
            "input 'x': parameter 'p' must be a string, number, boolean or null, not an object");
    }

    [Fact]
    public void DecodeRequest_RequestedOutputs_AreReadWithTheirParameters()
    {
        InferenceRequest request = Decode(
            """{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}],"outputs":[{"name":"a"},{"name":"b","parameters":{"binary_data":false,"classification":3}}]}""");

        IReadOnlyList<RequestedOutput> outputs = request.Outputs!;
        Assert.Equal(2, outputs.Count);
        Assert.Equal("a", outputs[0].Name);
        Assert.Null(outputs[0].Parameters);
        Assert.Equal("b", outputs[1].Name);
        Assert.False(Assert.IsType<bool>(outputs[1].Parameters!["binary_data"]));
        Assert.Equal(3L, outputs[1].Parameters!["classification"]);
    }

    [Theory]
    [InlineData(""","outputs":null""")]
    [InlineData("")]
    public void DecodeRequest_NoRequestedOutputs_MeansAllOutputs(string outputs)
    {
        Assert.Null(Decode($$"""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]{{outputs}}}""").Outputs);
    }

    [Fact]
    public void DecodeRequest_EmptyRequestedOutputs_IsAnEmptyList()
    {
        Assert.Empty(Decode("""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}],"outputs":[]}""").Outputs!);
    }

    [Theory]
    [InlineData("""[{"name":"a"},{"parameters":{}}]""", "requested output #1 has no 'name'")]
    [InlineData("""[{"parameters":{"p":[1]},"name":"late"}]""", "requested output 'late': parameter 'p' must be a string, number, boolean or null, not an array")]
    [InlineData("""["a"]""", "requested output #0 must be a JSON object")]
    [InlineData("""{"name":"a"}""", "request: 'outputs' must be an array")]
    [InlineData("""[{"name":1}]""", "requested output #0: 'name' must be a string, not 1")]
    public void DecodeRequest_MalformedRequestedOutput_Fails(string outputs, string message)
    {
        AssertDecodeFails($$"""{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}],"outputs":{{outputs}}}""", message);
    }

    // ---- writing ----------------------------------------------------------------------------------------------

    [Fact]
    public void WriteResponse_FullResponse_UsesTheV2PropertyNames()
    {
        var response = new InferenceResponse
        {
            ModelName = "iris",
            ModelVersion = "3",
            Id = "req-1",
            Parameters = new Dictionary<string, object?> { ["sequence_end"] = true },
            Outputs = [new InferenceTensor("probabilities", TensorDatatype.Fp32, [1, 3], new[] { 0.25f, 0.5f, 0.25f },
                new Dictionary<string, object?> { ["content_type"] = "np" })],
        };

        using JsonDocument document = JsonDocument.Parse(Write(response));
        JsonElement root = document.RootElement;

        Assert.Equal(["model_name", "model_version", "id", "parameters", "outputs"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("iris", root.GetProperty("model_name").GetString());
        Assert.Equal("3", root.GetProperty("model_version").GetString());
        Assert.Equal("req-1", root.GetProperty("id").GetString());
        Assert.True(root.GetProperty("parameters").GetProperty("sequence_end").GetBoolean());
        JsonElement output = Assert.Single(root.GetProperty("outputs").EnumerateArray());
        Assert.Equal(["name", "shape", "datatype", "parameters", "data"], output.EnumerateObject().Select(p => p.Name));
        Assert.Equal("probabilities", output.GetProperty("name").GetString());
        Assert.Equal([1L, 3L], output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal("FP32", output.GetProperty("datatype").GetString());
        Assert.Equal("np", output.GetProperty("parameters").GetProperty("content_type").GetString());
        Assert.Equal([0.25f, 0.5f, 0.25f], output.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()));
    }

    [Fact]
    public void WriteResponse_OptionalFieldsNull_OmitsThem()
    {
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Int32, [1], new[] { 1 })] };

        using JsonDocument document = JsonDocument.Parse(Write(response));

        Assert.Equal(["model_name", "outputs"], document.RootElement.EnumerateObject().Select(p => p.Name));
        JsonElement output = Assert.Single(document.RootElement.GetProperty("outputs").EnumerateArray());
        Assert.Equal(["name", "shape", "datatype", "data"], output.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void WriteResponse_NoOutputs_WritesAnEmptyArray()
    {
        using JsonDocument document = JsonDocument.Parse(Write(new InferenceResponse { ModelName = "m", Outputs = [] }));

        Assert.Equal(0, document.RootElement.GetProperty("outputs").GetArrayLength());
    }

    [Fact]
    public void WriteResponse_EchoesTheRequestId()
    {
        InferenceRequest request = Decode("""{"id":"abc-\u00e9","inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}""");
        var response = new InferenceResponse { ModelName = "m", Id = request.Id, Outputs = [] };

        using JsonDocument document = JsonDocument.Parse(Write(response));

        Assert.Equal("abc-\u00e9", document.RootElement.GetProperty("id").GetString());
        Assert.Equal("abc-\u00e9", V2JsonCodec.DecodeResponse(Write(response)).Id);
    }

    [Fact]
    public void WriteResponse_NonFiniteFloats_WritesThemAsStrings()
    {
        var response = new InferenceResponse
        {
            ModelName = "m",
            Outputs =
            [
                new InferenceTensor("h", TensorDatatype.Fp16, [4], new[] { Half.NaN, Half.PositiveInfinity, Half.NegativeInfinity, (Half)1.5 }),
                new InferenceTensor("f", TensorDatatype.Fp32, [4], new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1.5f }),
                new InferenceTensor("d", TensorDatatype.Fp64, [4], new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1.5 }),
            ],
        };

        using JsonDocument document = JsonDocument.Parse(Write(response));

        foreach (JsonElement output in document.RootElement.GetProperty("outputs").EnumerateArray())
        {
            JsonElement[] data = [.. output.GetProperty("data").EnumerateArray()];
            Assert.Equal(["NaN", "Infinity", "-Infinity"], data[..3].Select(e => e.GetString()));
            Assert.Equal(JsonValueKind.Number, data[3].ValueKind);
            Assert.Equal(1.5, data[3].GetDouble());
        }
    }

    [Fact]
    public void WriteResponse_Floats_UseTheShortestRoundTripText()
    {
        var response = new InferenceResponse
        {
            ModelName = "m",
            Outputs =
            [
                new InferenceTensor("h", TensorDatatype.Fp16, [2], new[] { (Half)0.1, (Half)(-2) }),
                new InferenceTensor("f", TensorDatatype.Fp32, [2], new[] { 0.1f, 1e-7f }),
                new InferenceTensor("d", TensorDatatype.Fp64, [2], new[] { 0.1, 1.0 / 3 }),
            ],
        };

        using JsonDocument document = JsonDocument.Parse(Write(response));

        string[][] texts = [.. document.RootElement.GetProperty("outputs").EnumerateArray()
            .Select(o => o.GetProperty("data").EnumerateArray().Select(e => e.GetRawText()).ToArray())];
        Assert.Equal(["0.1", "-2"], texts[0]);
        Assert.Equal("0.1", texts[1][0]);
        Assert.Equal(1e-7f, float.Parse(texts[1][1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["0.1", "0.3333333333333333"], texts[2]);
    }

    [Fact]
    public void WriteResponse_ParametersOfEachKind_AreWrittenAsJsonScalars()
    {
        var response = new InferenceResponse
        {
            ModelName = "m",
            Parameters = new Dictionary<string, object?>
            {
                ["s"] = "text",
                ["b"] = false,
                ["l"] = long.MaxValue,
                ["i"] = -3,
                ["d"] = 2.5,
                ["nan"] = double.NaN,
                ["n"] = null,
            },
            Outputs = [],
        };

        IReadOnlyDictionary<string, object?> parameters = V2JsonCodec.DecodeResponse(Write(response)).Parameters!;

        Assert.Equal("text", parameters["s"]);
        Assert.False(Assert.IsType<bool>(parameters["b"]));
        Assert.Equal(long.MaxValue, parameters["l"]);
        Assert.Equal(-3L, parameters["i"]);
        Assert.Equal(2.5, parameters["d"]);
        Assert.Equal("NaN", parameters["nan"]);
        Assert.Null(parameters["n"]);
    }

    [Fact]
    public void WriteResponse_ParameterOfAnUnsupportedType_ThrowsArgumentException()
    {
        var response = new InferenceResponse
        {
            ModelName = "m",
            Parameters = new Dictionary<string, object?> { ["when"] = DateTime.UnixEpoch },
            Outputs = [],
        };

        var error = Assert.Throws<ArgumentException>(() => Write(response));

        Assert.Contains("Parameter 'when' holds a DateTime", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteResponse_UnicodeAndControlCharactersInBytes_WritesValidJsonThatReadsBack()
    {
        string[] values = ["\u65e5\u672c\u8a9e", "\ud83d\ude00", "tab\tnewline\n", "quote\" backslash\\", "\u0000nul", "<script>&"];
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("s", TensorDatatype.Bytes, [6], values)] };
        byte[] json = Write(response);

        using JsonDocument document = JsonDocument.Parse(json);

        JsonElement output = Assert.Single(document.RootElement.GetProperty("outputs").EnumerateArray());
        Assert.Equal(values, output.GetProperty("data").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void WriteRequest_FullRequest_UsesTheV2PropertyNames()
    {
        var request = new InferenceRequest
        {
            Id = "r1",
            Parameters = new Dictionary<string, object?> { ["priority"] = 2L },
            Inputs = [new InferenceTensor("x", TensorDatatype.Int64, [2, 2], new long[] { 1, 2, 3, 4 })],
            Outputs = [new RequestedOutput("y"), new RequestedOutput("z", new Dictionary<string, object?> { ["binary_data"] = false })],
        };

        using JsonDocument document = JsonDocument.Parse(Write(request));
        JsonElement root = document.RootElement;

        Assert.Equal(["id", "parameters", "inputs", "outputs"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(2, root.GetProperty("parameters").GetProperty("priority").GetInt64());
        JsonElement input = Assert.Single(root.GetProperty("inputs").EnumerateArray());
        Assert.Equal(["name", "shape", "datatype", "data"], input.EnumerateObject().Select(p => p.Name));
        Assert.Equal([1L, 2L, 3L, 4L], input.GetProperty("data").EnumerateArray().Select(e => e.GetInt64()));
        JsonElement[] outputs = [.. root.GetProperty("outputs").EnumerateArray()];
        Assert.Equal("y", outputs[0].GetProperty("name").GetString());
        Assert.False(outputs[0].TryGetProperty("parameters", out _));
        Assert.False(outputs[1].GetProperty("parameters").GetProperty("binary_data").GetBoolean());
    }

    [Fact]
    public void WriteRequest_ThenDecodeRequest_RoundTripsIdParametersAndOutputs()
    {
        var request = new InferenceRequest
        {
            Id = "r1",
            Parameters = new Dictionary<string, object?> { ["a"] = "b", ["c"] = 1.25 },
            Inputs = [new InferenceTensor("x", TensorDatatype.Bool, [], new[] { true }, new Dictionary<string, object?> { ["k"] = 7L })],
            Outputs = [new RequestedOutput("y", new Dictionary<string, object?> { ["binary_data"] = true })],
        };

        InferenceRequest decoded = V2JsonCodec.DecodeRequest(Write(request));

        Assert.Equal("r1", decoded.Id);
        Assert.Equal("b", decoded.Parameters!["a"]);
        Assert.Equal(1.25, decoded.Parameters["c"]);
        InferenceTensor input = Assert.Single(decoded.Inputs);
        Assert.Empty(input.Shape);
        Assert.Equal([true], (bool[])input.Data);
        Assert.Equal(7L, input.Parameters!["k"]);
        RequestedOutput output = Assert.Single(decoded.Outputs!);
        Assert.Equal("y", output.Name);
        Assert.True(Assert.IsType<bool>(output.Parameters!["binary_data"]));
    }

    [Fact]
    public void WriteRequest_NoOutputsRequested_OmitsOutputs()
    {
        var request = new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Int8, [1], new sbyte[] { 1 })] };

        using JsonDocument document = JsonDocument.Parse(Write(request));

        Assert.Equal(["inputs"], document.RootElement.EnumerateObject().Select(p => p.Name));
    }

    // ---- decoding responses -----------------------------------------------------------------------------------

    [Fact]
    public void DecodeResponse_FullResponse_ReadsEveryField()
    {
        InferenceResponse response = V2JsonCodec.DecodeResponse(Encoding.UTF8.GetBytes(
            """{"model_name":"iris","model_version":"2","id":"r","parameters":{"x":1},"outputs":[{"name":"label","shape":[2],"datatype":"INT64","data":[0,2]}]}"""));

        Assert.Equal("iris", response.ModelName);
        Assert.Equal("2", response.ModelVersion);
        Assert.Equal("r", response.Id);
        Assert.Equal(1L, response.Parameters!["x"]);
        InferenceTensor output = Assert.Single(response.Outputs);
        Assert.Equal("label", output.Name);
        Assert.Equal([0L, 2L], (long[])output.Data);
    }

    [Theory]
    [InlineData("""{"outputs":[]}""", "response has no 'model_name'")]
    [InlineData("""{"model_name":"m"}""", "response has no 'outputs'")]
    [InlineData("""{"model_name":7,"outputs":[]}""", "response: 'model_name' must be a string, not 7")]
    [InlineData("""{"model_name":"m","model_version":2,"outputs":[]}""", "response: 'model_version' must be a string, not 2")]
    [InlineData("""{"model_name":"m","outputs":[{"name":"y","shape":[2],"datatype":"FP32","data":[1]}]}""", "output 'y': expected 2 elements for shape [2] but got 1")]
    [InlineData("""{"model_name":"m","outputs":[{"name":"y","shape":[1],"datatype":"FP32","data":[1]},{"name":"y","shape":[1],"datatype":"FP32","data":[1]}]}""", "output 'y' appears more than once")]
    [InlineData("[]", "response body must be a JSON object")]
    public void DecodeResponse_InvalidResponse_Fails(string json, string message)
    {
        var error = Assert.Throws<InferenceProtocolException>(() => V2JsonCodec.DecodeResponse(Encoding.UTF8.GetBytes(json)));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void DecodeResponse_MalformedJson_FailsAsProtocolError()
    {
        var error = Assert.Throws<InferenceProtocolException>(() => V2JsonCodec.DecodeResponse("{\"model_name\":"u8));

        Assert.StartsWith("response body is not valid JSON: ", error.Message, StringComparison.Ordinal);
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static string Request(string datatype, string shape, string data) =>
        $$"""{"inputs":[{"name":"x","shape":{{shape}},"datatype":"{{datatype}}","data":{{data}}}]}""";

    private static InferenceRequest Decode(string json) => V2JsonCodec.DecodeRequest(Encoding.UTF8.GetBytes(json));

    private static void AssertDecodeFails(string json, string message)
    {
        var error = Assert.Throws<InferenceProtocolException>(() => Decode(json));
        Assert.Equal(message, error.Message);

        // The pipe path (a multi-segment body) must fail the same way.
        var sequenceError = Assert.Throws<InferenceProtocolException>(() => V2JsonCodec.DecodeRequest(OneByteSegments(Encoding.UTF8.GetBytes(json))));
        Assert.Equal(message, sequenceError.Message);
    }

    private static byte[] Write(InferenceResponse response)
    {
        var buffer = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteResponse(buffer, response);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Write(InferenceRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteRequest(buffer, request);
        return buffer.WrittenSpan.ToArray();
    }

    private static ReadOnlySequence<byte> OneByteSegments(byte[] bytes)
    {
        if (bytes.Length < 2)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes.AsMemory(0, 1), 0);
        Segment last = first;
        for (int i = 1; i < bytes.Length; i++)
        {
            last = last.Append(bytes.AsMemory(i, 1));
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
