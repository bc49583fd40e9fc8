using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;

namespace Mds.UnitTests.Contracts;

/// <summary>
/// BF16 (bfloat16) as an element type and through every codec: V2 JSON, the binary tensor data extension, gRPC raw
/// contents (and the refusal of typed contents, which have no BF16 field), and the tabular conversions. Threat: a
/// BF16 value changes on its way through MDS (a wrong rounding, a NaN turned into infinity, -0 into 0).
/// </summary>
public sealed class BFloat16Tests
{
    /// <summary>0, -0, 1, -1.5, max, min subnormal, +inf, -inf, NaN.</summary>
    private static readonly BFloat16[] Specials =
    [
        BFloat16.Zero, BFloat16.FromBits(0x8000), BFloat16.One, BFloat16.FromBits(0xBFC0), BFloat16.MaxValue,
        BFloat16.Epsilon, BFloat16.PositiveInfinity, BFloat16.NegativeInfinity, BFloat16.NaN,
    ];

    private static readonly float[] SpecialFloats =
    [
        0f, -0f, 1f, -1.5f, 3.3895314e38f, MathF.Pow(2, -133), float.PositiveInfinity, float.NegativeInfinity, float.NaN,
    ];

    // ---- the element type -------------------------------------------------------------------------------------

    [Fact]
    public void Special_values_are_the_upper_16_bits_of_their_float_and_convert_back_exactly()
    {
        for (int i = 0; i < Specials.Length; i++)
        {
            Assert.Equal(Specials[i], (BFloat16)SpecialFloats[i]);
            if (float.IsNaN(SpecialFloats[i]))
            {
                Assert.True(float.IsNaN(Specials[i])); // .NET's float.NaN has the sign bit set; any NaN is a NaN
                continue;
            }

            Assert.Equal(BitConverter.SingleToUInt32Bits(SpecialFloats[i]) >> 16, Specials[i].Bits);
            Assert.Equal(BitConverter.SingleToUInt32Bits(SpecialFloats[i]), BitConverter.SingleToUInt32Bits(Specials[i]));
        }

        Assert.Equal(-3.3895314e38f, (float)BFloat16.MinValue);
    }

    [Theory]
    [InlineData(1.00390625f, 0x3F80)] // halfway between 1 and 1.0078125: ties to even (down)
    [InlineData(1.01171875f, 0x3F82)] // halfway between 1.0078125 and 1.015625: ties to even (up)
    [InlineData(1.005f, 0x3F81)] // nearer the upper neighbour
    [InlineData(0.1f, 0x3DCD)]
    [InlineData(-0.1f, 0xBDCD)]
    [InlineData(3.3962e38f, 0x7F80)] // past MaxValue's halfway point (3.39618e38): infinity
    [InlineData(3.3961e38f, 0x7F7F)]
    [InlineData(1e-45f, 0x0000)] // below half the smallest subnormal: zero
    public void A_float_that_BF16_cannot_hold_rounds_to_the_nearest_ties_to_even(float value, int bits)
    {
        Assert.Equal((ushort)bits, ((BFloat16)value).Bits);
        Assert.Equal((ushort)bits, ((BFloat16)(double)value).Bits);
    }

    [Fact]
    public void A_double_is_rounded_once_not_through_float()
    {
        // 1 + 2^-8 + 2^-40: float rounds it to the tie 1 + 2^-8 (which would then go down to even), but it is above
        // the tie, so the nearest BF16 is 1.0078125.
        double value = 1 + Math.Pow(2, -8) + Math.Pow(2, -40);
        Assert.Equal(0x3F80, ((BFloat16)(float)value).Bits);
        Assert.Equal(0x3F81, ((BFloat16)value).Bits);
        Assert.Equal(0x7F80, ((BFloat16)1e300).Bits);
        Assert.Equal(0x8000, ((BFloat16)(-1e-300)).Bits);
    }

    [Theory]
    [InlineData(0x7FC00000u)]
    [InlineData(0xFFC00000u)]
    [InlineData(0x7F800001u)] // a signalling NaN whose payload is only in the bits BF16 drops
    [InlineData(0xFF80FFFFu)]
    public void NaN_stays_NaN(uint floatBits)
    {
        float nan = BitConverter.UInt32BitsToSingle(floatBits);
        Assert.True(BFloat16.IsNaN((BFloat16)nan));
        Assert.True(BFloat16.IsNaN((BFloat16)(double)nan));
        Assert.True(float.IsNaN((BFloat16)nan));
    }

    [Fact]
    public void Equality_is_by_bits_except_that_every_NaN_equals_every_NaN()
    {
        Assert.NotEqual(BFloat16.Zero, BFloat16.FromBits(0x8000));
        Assert.True(BFloat16.One == (BFloat16)1.0);
        Assert.True(BFloat16.One != BFloat16.Zero);
        Assert.Equal(BFloat16.NaN, BFloat16.FromBits(0xFFC1));
        Assert.Equal(BFloat16.NaN.GetHashCode(), BFloat16.FromBits(0xFFC1).GetHashCode());
        Assert.NotEqual(BFloat16.PositiveInfinity, BFloat16.NaN);
        Assert.False(BFloat16.One.Equals((object)1f));
    }

    [Fact]
    public void Every_BF16_prints_invariantly_as_the_shortest_text_that_reads_back_as_itself()
    {
        // (MDS runs with invariant globalization, so no other culture can be set to show it is ignored.)
        Assert.Equal("0.1", ((BFloat16)0.1f).ToString());
        Assert.Equal("-1.5", BFloat16.FromBits(0xBFC0).ToString());
        Assert.Equal("-0", BFloat16.FromBits(0x8000).ToString());
        Assert.Equal("3.39E+38", BFloat16.MaxValue.ToString());
        Assert.Equal("NaN", BFloat16.NaN.ToString());
        Assert.Equal("-Infinity", BFloat16.NegativeInfinity.ToString());
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            var value = BFloat16.FromBits((ushort)bits);
            if (!BFloat16.IsFinite(value))
            {
                continue;
            }

            string text = value.ToString();
            Assert.True(text.Length <= 10, text);
            Assert.Equal(value.Bits, ((BFloat16)double.Parse(text, CultureInfo.InvariantCulture)).Bits);
        }
    }

    // ---- V2 JSON ----------------------------------------------------------------------------------------------

    [Fact]
    public void Json_request_decodes_the_special_values_and_a_response_writes_them_back()
    {
        const string data = "[0,-0.0,1,-1.5,3.3895314e38,9.2e-41,\"Infinity\",\"-Infinity\",\"NaN\"]";
        var input = Assert.Single(DecodeJson(data, Specials.Length).Inputs);
        Assert.Equal(TensorDatatype.Bf16, input.Datatype);
        Assert.Equal(Specials, Assert.IsType<BFloat16[]>(input.Data));

        byte[] body = WriteJson(new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Bf16, [Specials.Length], Specials)] });
        using var document = JsonDocument.Parse(body);
        var output = document.RootElement.GetProperty("outputs")[0];
        Assert.Equal("BF16", output.GetProperty("datatype").GetString());
        Assert.Equal(
            ["0", "-0", "1", "-1.5", "3.39E+38", "9E-41", "\"Infinity\"", "\"-Infinity\"", "\"NaN\""],
            output.GetProperty("data").EnumerateArray().Select(e => e.GetRawText()));
        Assert.Equal(Specials, V2JsonCodec.DecodeResponse(body).Outputs[0].Data);
    }

    [Fact]
    public void Json_numbers_round_to_the_nearest_BF16_once()
    {
        var input = Assert.Single(DecodeJson("[0.1,1.00390625,1.0039062500009095,-2.5e3]", 4).Inputs);
        Assert.Equal(new ushort[] { 0x3DCD, 0x3F80, 0x3F81, 0xC51C }, ((BFloat16[])input.Data).Select(b => b.Bits));
    }

    [Theory]
    [InlineData("[1e39]", "element 0 is not a valid BF16 (1e39)")]
    [InlineData("[\"1\"]", "element 0 is not a valid BF16 (\"1\")")]
    [InlineData("[true]", "element 0 is not a valid BF16 (true)")]
    public void Json_element_that_is_not_a_finite_BF16_number_is_refused_naming_it(string data, string error)
    {
        var e = Assert.Throws<InferenceProtocolException>(() => DecodeJson(data, 1));
        Assert.Contains(error, e.Message, StringComparison.Ordinal);
    }

    // ---- binary tensor data -----------------------------------------------------------------------------------

    [Fact]
    public void Binary_data_carries_BF16_as_raw_little_endian_2_byte_elements_both_ways()
    {
        var request = new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Bf16, [Specials.Length], Specials)] };
        var buffer = new ArrayBufferWriter<byte>();
        int headerLength = BinaryTensorData.WriteRequest(buffer, request, [true]);
        byte[] body = buffer.WrittenSpan.ToArray();
        Assert.Equal(2 * Specials.Length, body.Length - headerLength);
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x80, 0x80, 0x3F }, body[headerLength..(headerLength + 6)]);
        Assert.Equal(Specials, BinaryTensorData.DecodeRequest(body, headerLength).Inputs[0].Data);

        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Bf16, [Specials.Length], Specials)] };
        var written = new ArrayBufferWriter<byte>();
        int responseHeader = BinaryTensorData.WriteResponse(written, response, [true]);
        Assert.Equal(Specials, BinaryTensorData.DecodeResponse(written.WrittenMemory, responseHeader).Outputs[0].Data);
    }

    [Fact]
    public void Binary_data_whose_size_is_not_2_bytes_per_element_is_refused_before_allocating()
    {
        string json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1000000000],\"datatype\":\"BF16\",\"parameters\":{\"binary_data_size\":4}}]}";
        byte[] body = [.. Encoding.UTF8.GetBytes(json), 1, 2, 3, 4];
        var e = Assert.Throws<InferenceProtocolException>(() => BinaryTensorData.DecodeRequest(body, json.Length));
        Assert.Contains("of BF16 needs 2000000000 (2 per element)", e.Message, StringComparison.Ordinal);
    }

    // ---- gRPC -------------------------------------------------------------------------------------------------

    [Fact]
    public void Grpc_raw_input_contents_decode_to_BF16_and_outputs_are_always_answered_raw()
    {
        var request = new ModelInferRequest { ModelName = "m" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "BF16", Shape = { Specials.Length } });
        request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(Specials.AsSpan())));
        var input = Assert.Single(GrpcTensorCodec.Decode(request).Inputs);
        Assert.Equal(TensorDatatype.Bf16, input.Datatype);
        Assert.Equal(Specials, input.Data);

        // a typed-contents request still gets raw outputs for BF16: there is no typed field to put them in
        var response = GrpcTensorCodec.Encode(new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Bf16, [Specials.Length], Specials)] }, raw: false);
        Assert.Equal("BF16", response.Outputs[0].Datatype);
        Assert.Null(response.Outputs[0].Contents);
        Assert.Equal(Specials, MemoryMarshal.Cast<byte, BFloat16>(Assert.Single(response.RawOutputContents).Span).ToArray());
    }

    [Fact]
    public void Grpc_BF16_in_typed_contents_is_refused_naming_raw_input_contents()
    {
        var request = new ModelInferRequest { ModelName = "m" };
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "BF16", Shape = { 2 } };
        tensor.Contents = new InferTensorContents { Fp32Contents = { 1f, 2f } };
        request.Inputs.Add(tensor);
        var e = Assert.Throws<InferenceProtocolException>(() => GrpcTensorCodec.Decode(request));
        Assert.Equal("input 'x': BF16 has no typed contents field; send it in raw_input_contents", e.Message);
    }

    [Fact]
    public void Grpc_raw_contents_of_the_wrong_length_are_refused()
    {
        var request = new ModelInferRequest { ModelName = "m" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "BF16", Shape = { 3 } });
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[5]));
        var e = Assert.Throws<InferenceProtocolException>(() => GrpcTensorCodec.Decode(request));
        Assert.Contains("expected 6 bytes of raw contents (3 elements of BF16 for shape [3]) but got 5", e.Message, StringComparison.Ordinal);
    }

    // ---- tabular ----------------------------------------------------------------------------------------------

    [Fact]
    public void Tabular_numbers_become_BF16_rounded_and_read_back_as_doubles()
    {
        var data = Assert.IsType<BFloat16[]>(TabularTensor.Convert([0.1, -1.5, 1e300, double.NaN], TensorDatatype.Bf16));
        Assert.Equal(new ushort[] { 0x3DCD, 0xBFC0, 0x7F80 }, data[..3].Select(b => b.Bits));
        Assert.True(BFloat16.IsNaN(data[3]));
        Assert.Equal([0.10009765625, -1.5], TabularTensor.ToDoubles(data)![..2]);
        Assert.Equal(TensorDatatype.Bf16, TabularTensor.Create("x", TensorDatatype.Bf16, [1, 2, 3, 4], 2).Datatype);
    }

    private static InferenceRequest DecodeJson(string data, int count) =>
        V2JsonCodec.DecodeRequest(Encoding.UTF8.GetBytes(
            $"{{\"inputs\":[{{\"name\":\"x\",\"shape\":[{count}],\"datatype\":\"BF16\",\"data\":{data}}}]}}"));

    private static byte[] WriteJson(InferenceResponse response)
    {
        var buffer = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteResponse(buffer, response);
        return buffer.WrittenSpan.ToArray();
    }
}
