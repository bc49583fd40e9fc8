using System.Buffers;
using Google.Protobuf;
using Grpc.Core;

namespace Mds.Contracts.Inference.Grpc;

// Protobuf's parser keeps every repeated entry and every unknown field as an object of its own: a 64 MiB message of
// empty raw_input_contents entries (2 bytes each on the wire) becomes ~33 million ByteStrings, about 2 GiB. So the
// wire is counted first, without allocating, and only a message within the limits is parsed.

/// <summary>
/// Limits on one <see cref="ModelInferRequest"/>, checked on its wire bytes before it is parsed (the message's size is
/// bounded before that by gRPC's maximum receive size). The gateway and the workers use the same limits.
/// </summary>
/// <param name="MaxTensors">The most inputs, requested outputs, <c>raw_input_contents</c> entries, and parameters in one parameters map.</param>
/// <param name="MaxElements">
/// The most repeated elements in the whole message: typed <c>contents</c> elements, shape dimensions, and any field the
/// protocol does not define. Larger tensors belong in <c>raw_input_contents</c>, which count as one entry each.
/// </param>
public sealed record GrpcRequestLimits(int MaxTensors = GrpcRequestLimits.DefaultMaxTensors, int MaxElements = GrpcRequestLimits.DefaultMaxElements)
{
    /// <summary>Default of <see cref="MaxTensors"/>.</summary>
    public const int DefaultMaxTensors = 1024;

    /// <summary>Default of <see cref="MaxElements"/>: 4 Mi (4,194,304).</summary>
    public const int DefaultMaxElements = 4 * 1024 * 1024;

    private const int Varint = 0, Fixed64 = 1, Delimited = 2, Fixed32 = 5;

    /// <summary>
    /// Checks <paramref name="payload"/>, the wire bytes of a <see cref="ModelInferRequest"/>, against the limits
    /// without parsing it.
    /// </summary>
    /// <exception cref="RpcException">
    /// <see cref="StatusCode.ResourceExhausted"/> naming the limit it breaks; <see cref="StatusCode.InvalidArgument"/>
    /// when the bytes are not a well-formed message.
    /// </exception>
    public void Check(ReadOnlySequence<byte> payload)
    {
        var scan = new Scan(new SequenceReader<byte>(payload), this);
        scan.Request(payload.Length);
    }

    /// <summary>
    /// A marshaller for <see cref="ModelInferRequest"/> that runs <see cref="Check"/> before it parses: the server
    /// side of <c>ModelInfer</c> on the gateway and the workers.
    /// </summary>
    public Marshaller<ModelInferRequest> RequestMarshaller() => Marshallers.Create<ModelInferRequest>(
        (message, context) =>
        {
            context.SetPayloadLength(message.CalculateSize());
            message.WriteTo(context.GetBufferWriter());
            context.Complete();
        },
        context =>
        {
            // gRPC for ASP.NET Core answers UNKNOWN to any exception from a deserializer, so a refused message becomes
            // an empty placeholder that carries the status; the service throws it (ThrowIfRefused) before anything else.
            var payload = context.PayloadAsReadOnlySequence();
            try
            {
                Check(payload);
                return ModelInferRequest.Parser.ParseFrom(payload);
            }
            catch (RpcException e)
            {
                return Refuse(e);
            }
            catch (InvalidProtocolBufferException e)
            {
                return Refuse(new RpcException(new Status(StatusCode.InvalidArgument, "the request is not a valid ModelInferRequest: " + e.Message)));
            }
        });

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ModelInferRequest, RpcException> Refusals = [];

    private static ModelInferRequest Refuse(RpcException e)
    {
        var placeholder = new ModelInferRequest();
        Refusals.Add(placeholder, e);
        return placeholder;
    }

    /// <summary>
    /// Throws the status <see cref="RequestMarshaller"/> refused <paramref name="request"/> with (RESOURCE_EXHAUSTED
    /// naming the limit, or INVALID_ARGUMENT); does nothing for a request it parsed.
    /// </summary>
    /// <exception cref="RpcException">The request was refused before it was parsed.</exception>
    public static void ThrowIfRefused(ModelInferRequest request)
    {
        if (request is not null && Refusals.TryGetValue(request, out var refusal))
        {
            throw refusal;
        }
    }

    /// <summary>
    /// Binds <c>inference.GRPCInferenceService</c> as the generated code does, with <see cref="RequestMarshaller"/>
    /// for <c>ModelInfer</c>. Call it from a <c>BindService</c> method named by the service's
    /// <see cref="BindServiceMethodAttribute"/>, whose second parameter is the generated base type (ASP.NET Core's
    /// binder only finds handlers that override methods of that type).
    /// </summary>
    /// <param name="binder">The binder the gRPC server passes.</param>
    /// <param name="service">The service instance (null when the server binds by type).</param>
    public void Bind(ServiceBinderBase binder, GRPCInferenceService.GRPCInferenceServiceBase? service)
    {
        ArgumentNullException.ThrowIfNull(binder);
        GRPCInferenceService.BindService(new BoundedBinder(binder, RequestMarshaller()), service!);
    }

    private static RpcException Exhausted(string what) => new(new Status(StatusCode.ResourceExhausted, what));

    private static RpcException Malformed() =>
        new(new Status(StatusCode.InvalidArgument, "the request is not a valid ModelInferRequest (malformed protobuf)"));

    private ref struct Scan(SequenceReader<byte> reader, GrpcRequestLimits limits)
    {
        private SequenceReader<byte> _reader = reader;
        private long _elements;

        public void Request(long end)
        {
            int inputs = 0, outputs = 0, raw = 0, parameters = 0;
            while (_reader.Consumed < end)
            {
                var (field, wire) = Tag(end);
                switch (field, wire)
                {
                    case (4, Delimited):
                        Count(ref parameters, "request parameters");
                        Skip(wire, end);
                        break;
                    case (5, Delimited):
                        Count(ref inputs, "inputs");
                        Input(Length(end));
                        break;
                    case (6, Delimited):
                        Count(ref outputs, "requested outputs");
                        Output(Length(end));
                        break;
                    case (7, Delimited):
                        Count(ref raw, "raw_input_contents entries");
                        Skip(wire, end);
                        break;
                    default:
                        if (field > 3)
                        {
                            Element(); // not model_name, model_version or id
                        }

                        Skip(wire, end);
                        break;
                }
            }
        }

        private void Input(long end)
        {
            int parameters = 0;
            while (_reader.Consumed < end)
            {
                var (field, wire) = Tag(end);
                switch (field, wire)
                {
                    case (3, Delimited): // packed shape
                        PackedVarints(Length(end));
                        break;
                    case (4, Delimited):
                        Count(ref parameters, "parameters of one input");
                        Skip(wire, end);
                        break;
                    case (5, Delimited):
                        Contents(Length(end));
                        break;
                    default:
                        if (field > 2)
                        {
                            Element(); // not name or datatype
                        }

                        Skip(wire, end);
                        break;
                }
            }

            Ends(end);
        }

        private void Output(long end)
        {
            int parameters = 0;
            while (_reader.Consumed < end)
            {
                var (field, wire) = Tag(end);
                if (field == 2 && wire == Delimited)
                {
                    Count(ref parameters, "parameters of one requested output");
                }
                else if (field != 1)
                {
                    Element();
                }

                Skip(wire, end);
            }

            Ends(end);
        }

        private void Contents(long end)
        {
            while (_reader.Consumed < end)
            {
                var (field, wire) = Tag(end);
                if (wire == Delimited && field is >= 1 and <= 7)
                {
                    long packedEnd = Length(end);
                    long bytes = packedEnd - _reader.Consumed;
                    switch (field)
                    {
                        case 6: // fp32: fixed 4 bytes
                            Elements(bytes / 4);
                            _reader.Advance(bytes);
                            break;
                        case 7: // fp64: fixed 8 bytes
                            Elements(bytes / 8);
                            _reader.Advance(bytes);
                            break;
                        default:
                            PackedVarints(packedEnd);
                            break;
                    }
                }
                else
                {
                    Element(); // an unpacked element, a bytes_contents entry, or an unknown field
                    Skip(wire, end);
                }
            }

            Ends(end);
        }

        // Each varint ends with a byte below 0x80: counting those counts the elements without decoding them.
        private void PackedVarints(long end)
        {
            long count = 0;
            while (_reader.Consumed < end)
            {
                var span = _reader.UnreadSpan;
                int take = (int)Math.Min(span.Length, end - _reader.Consumed);
                if (take <= 0)
                {
                    throw Malformed();
                }

                foreach (byte b in span[..take])
                {
                    if (b < 0x80)
                    {
                        count++;
                    }
                }

                _reader.Advance(take);
            }

            Elements(count);
        }

        private void Count(ref int count, string what)
        {
            if (++count > limits.MaxTensors)
            {
                throw Exhausted($"the request has more than {limits.MaxTensors} {what} (limit MaxTensors)");
            }
        }

        private void Element() => Elements(1);

        private void Elements(long count)
        {
            _elements += count;
            if (_elements > limits.MaxElements)
            {
                throw Exhausted($"the request has more than {limits.MaxElements} repeated elements (typed contents, shape dimensions, unknown fields; limit MaxElements); send large tensors in raw_input_contents");
            }
        }

        private (int Field, int Wire) Tag(long end)
        {
            ulong tag = ReadVarint();
            if (_reader.Consumed > end)
            {
                throw Malformed();
            }

            int wire = (int)(tag & 7);
            ulong field = tag >> 3;
            if (field == 0 || field > int.MaxValue)
            {
                throw Malformed();
            }

            return ((int)field, wire);
        }

        /// <summary>Reads a length prefix; returns where the value ends.</summary>
        private long Length(long end)
        {
            ulong length = ReadVarint();
            long remaining = end - _reader.Consumed; // negative when the varint itself ran past the field's end
            if (remaining < 0 || length > (ulong)remaining)
            {
                throw Malformed();
            }

            return _reader.Consumed + (long)length;
        }

        private void Skip(int wire, long end)
        {
            long size = wire switch
            {
                Varint => -1,
                Fixed64 => 8,
                Delimited => Length(end) - _reader.Consumed,
                Fixed32 => 4,
                _ => throw Malformed(), // groups: not in proto3
            };
            if (size < 0)
            {
                ReadVarint();
                size = 0;
            }

            // Every read stays inside the enclosing field: a varint or tag may not run past its end.

            if (size > end - _reader.Consumed)
            {
                throw Malformed();
            }

            _reader.Advance(size);
        }

        private readonly void Ends(long end)
        {
            if (_reader.Consumed != end)
            {
                throw Malformed();
            }
        }

        private ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                if (!_reader.TryRead(out byte b))
                {
                    throw Malformed();
                }

                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw Malformed();
        }
    }

    /// <summary>Passes every method to the server's binder, <c>ModelInfer</c> with the bounded request marshaller.</summary>
    private sealed class BoundedBinder(ServiceBinderBase inner, Marshaller<ModelInferRequest> requests) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (method is Method<ModelInferRequest, ModelInferResponse> infer)
            {
                var bounded = new Method<ModelInferRequest, ModelInferResponse>(infer.Type, infer.ServiceName, infer.Name, requests, infer.ResponseMarshaller);
                inner.AddMethod(bounded, (UnaryServerMethod<ModelInferRequest, ModelInferResponse>?)(object?)handler);
                return;
            }

            inner.AddMethod(method, handler);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);
    }
}
