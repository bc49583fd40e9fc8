using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;

namespace Mds.UnitTests.Contracts;

/// <summary>gRPC ModelInfer messages are counted on the wire, before protobuf parses (and allocates for) them.</summary>
public sealed class GrpcRequestLimitsTests
{
    private static readonly GrpcRequestLimits Limits = new();

    /// <summary>Wire bytes: a tag for <paramref name="field"/> with wire type 2 and an empty value, <paramref name="count"/> times.</summary>
    private static byte[] EmptyEntries(int field, int count)
    {
        var bytes = new byte[count * 2];
        for (int i = 0; i < count; i++)
        {
            bytes[i * 2] = (byte)((field << 3) | 2);
        }

        return bytes;
    }

    private static ModelInferRequest Valid()
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 1, 3 }, Contents = new InferTensorContents { Fp32Contents = { 1, 2, 3 } } };
        return new ModelInferRequest { ModelName = "m", Inputs = { input }, Outputs = { new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "y" } } };
    }

    private static RpcException Refused(byte[] wire, GrpcRequestLimits? limits = null) =>
        Assert.Throws<RpcException>(() => (limits ?? Limits).Check(new ReadOnlySequence<byte>(wire)));

    [Fact]
    public void MessageOfEmptyRawEntries_IsRefusedBeforeParsing_AndAllocatesLittle()
    {
        // 8 million empty raw_input_contents entries: 16 MB on the wire, ~400 MB once protobuf has parsed it.
        byte[] wire = EmptyEntries(7, 8_000_000);
        Limits.Check(new ReadOnlySequence<byte>(EmptyEntries(7, 3))); // warm up

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused(wire);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("raw_input_contents", e.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("MaxTensors", e.Status.Detail, StringComparison.Ordinal);
        Assert.True(allocated < 256 * 1024, $"refusing allocated {allocated} bytes");
    }

    [Fact]
    public void TooManyInputs_AreRefused_NamingTheLimit()
    {
        var e = Refused(EmptyEntries(5, GrpcRequestLimits.DefaultMaxTensors + 1));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains($"more than {GrpcRequestLimits.DefaultMaxTensors} inputs", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TooManyRequestedOutputs_AreRefused_NamingTheLimit()
    {
        var e = Refused(EmptyEntries(6, 11), new GrpcRequestLimits(MaxTensors: 10));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("more than 10 requested outputs", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TooManyParameters_AreRefused_NamingTheLimit()
    {
        var e = Refused(EmptyEntries(4, 11), new GrpcRequestLimits(MaxTensors: 10));
        Assert.Contains("more than 10 request parameters", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TooManyTypedElements_AreRefusedBeforeParsing_AndAllocateLittle()
    {
        // One input whose int64_contents hold 5 million one-byte varints (40 MB once parsed).
        var contents = new InferTensorContents();
        var request = Valid();
        request.Inputs[0].Datatype = "INT64";
        request.Inputs[0].Contents = contents;
        byte[] packed = new byte[5_000_000];
        var contentsWire = new List<byte> { (3 << 3) | 2 };
        contentsWire.AddRange(Varint((ulong)packed.Length));
        contentsWire.AddRange(packed);
        var inputWire = new List<byte>(request.Inputs[0].ToByteArray()) { (5 << 3) | 2 };
        inputWire.AddRange(Varint((ulong)contentsWire.Count));
        inputWire.AddRange(contentsWire);
        var wire = new List<byte> { (5 << 3) | 2 };
        wire.AddRange(Varint((ulong)inputWire.Count));
        wire.AddRange(inputWire);
        byte[] bytes = [.. wire];

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused(bytes);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("MaxElements", e.Status.Detail, StringComparison.Ordinal);
        Assert.True(allocated < 256 * 1024, $"refusing allocated {allocated} bytes");
    }

    [Fact]
    public void ManyUnknownFields_CountAsElements()
    {
        var e = Refused(EmptyEntries(15, 101), new GrpcRequestLimits(MaxElements: 100));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("MaxElements", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AMessageWithinTheLimits_ParsesAsProtobufDoes()
    {
        var request = Valid();
        request.Parameters["p"] = new InferParameter { Int64Param = 3 };
        request.Inputs[0].Parameters["q"] = new InferParameter { StringParam = "s" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "z", Datatype = "BYTES", Shape = { 2 }, Contents = new InferTensorContents { BytesContents = { ByteString.CopyFromUtf8("a"), ByteString.Empty } } });
        byte[] wire = request.ToByteArray();

        var parsed = Limits.RequestMarshaller().ContextualDeserializer(new Payload(wire));

        Assert.Equal(request, parsed);
        Assert.Equal(2, GrpcTensorCodec.Decode(parsed).Inputs.Count);
    }

    [Fact]
    public void TheMarshaller_HandsTheServiceARefusal_ThatThrowsTheLimitsStatus()
    {
        var refused = Limits.RequestMarshaller().ContextualDeserializer(new Payload(EmptyEntries(7, GrpcRequestLimits.DefaultMaxTensors + 1)));

        var e = Assert.Throws<RpcException>(() => GrpcRequestLimits.ThrowIfRefused(refused));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("raw_input_contents", e.Status.Detail, StringComparison.Ordinal);
        GrpcRequestLimits.ThrowIfRefused(Valid()); // a parsed request passes
    }

    [Fact]
    public void ElementsExactlyAtTheLimit_AreAccepted()
    {
        var request = Valid(); // 2 shape dimensions + 3 contents elements
        new GrpcRequestLimits(MaxTensors: 1, MaxElements: 5).Check(new ReadOnlySequence<byte>(request.ToByteArray()));
        var e = Refused(request.ToByteArray(), new GrpcRequestLimits(MaxTensors: 1, MaxElements: 4));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
    }

    [Theory]
    [InlineData(new byte[] { 0x2A, 0x05, 0x0A })] // input says 5 bytes, 1 follows
    [InlineData(new byte[] { 0x2A, 0x02, 0x2A, 0x99, 0x01, 0x00, 0x00 })] // a length that runs past its input (the fuzz test's hang)
    [InlineData(new byte[] { 0x00 })] // field 0
    [InlineData(new byte[] { 0x0B })] // a group
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })] // an 11-byte varint
    public void MalformedWire_IsInvalidArgument(byte[] wire)
    {
        var e = Refused(wire);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }

    [Fact]
    public void AShapeWhoseProductOverflows_IsRefused_NotWrappedToZero()
    {
        // 2 * 2^62 wrapped to 0 in a long: the tensor passed as empty with shape [2, 2^62].
        var request = Valid();
        request.Inputs[0].Shape.Clear();
        request.Inputs[0].Shape.Add([2, 1L << 62]);
        request.Inputs[0].Contents = new InferTensorContents();

        var e = Assert.Throws<InferenceProtocolException>(() => GrpcTensorCodec.Decode(request));
        Assert.Contains("too many elements", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHugeBytesShapeWithEmptyRawContents_IsRefusedBeforeAllocating()
    {
        var request = new ModelInferRequest
        {
            ModelName = "m",
            Inputs = { new ModelInferRequest.Types.InferInputTensor { Name = "s", Datatype = "BYTES", Shape = { 500_000_000 } } },
            RawInputContents = { ByteString.Empty },
        };

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InferenceProtocolException>(() => GrpcTensorCodec.Decode(request));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("cannot hold", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1024 * 1024, $"refusing allocated {allocated} bytes");
    }

    private static IEnumerable<byte> Varint(ulong value)
    {
        while (value >= 0x80)
        {
            yield return (byte)(value | 0x80);
            value >>= 7;
        }

        yield return (byte)value;
    }

    /// <summary>What the gRPC server hands a marshaller.</summary>
    internal sealed class Payload(byte[] bytes) : DeserializationContext
    {
        public override int PayloadLength => bytes.Length;

        public override byte[] PayloadAsNewBuffer() => (byte[])bytes.Clone();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(bytes);
    }
}
