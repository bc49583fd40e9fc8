using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using CsCheck;
using Google.Protobuf;
using Grpc.Core;
using Mds.Backend.Experiments;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.UnitTests.Pipelines;
using Xunit.Abstractions;

namespace Mds.UnitTests.Contracts;

/// <summary>
/// Threat: a hostile body crashes the process or escapes as a 500 instead of a 400. Property tests over every decoder
/// of client input (V2 JSON, binary tensor data, gRPC ModelInfer, pipeline specs; experiment specs on their own 100,000), generated
/// with random structure and mutated byte-wise from valid ones; the only exceptions that may escape are the documented
/// ones (<see cref="InferenceProtocolException"/>, <see cref="PipelineSpecException"/>, <see cref="ExperimentSpecException"/>, and on the gRPC wire an
/// <see cref="RpcException"/> with a client status).
/// </summary>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    private const int JsonInputs = 30_000;
    private const int BinaryInputs = 20_000;
    private const int GrpcCount = 30_000;
    private const int PipelineInputs = 20_000;
    private const int ExperimentInputs = 100_000;

    // ---- shared generators ----------------------------------------------------------------------------------

    private static readonly TensorDatatype[] Datatypes = [.. Enum.GetValues<TensorDatatype>().Where(d => d != TensorDatatype.Invalid)];

    private static readonly Gen<string> Names = Gen.OneOf(
        Gen.OneOf<string>("x", "y", "z", "input", ""),
        Gen.String[Gen.Char.AlphaNumeric, 1, 8],
        Gen.String[0, 80]);

    /// <summary>Mostly small dimensions, sometimes huge or overflowing ones.</summary>
    private static readonly Gen<long> Dims = Gen.Frequency(
        (12, Gen.Long[0, 4]),
        (1, Gen.Long[-3, long.MaxValue]),
        (1, Gen.Int[20, 62].Select(b => 1L << b)));

    /// <summary>A well-formed request (shapes and data agree), with data from a seed.</summary>
    private static readonly Gen<InferenceRequest> Requests =
        from inputs in (from name in Names
                        from datatype in Gen.Int[0, Datatypes.Length - 1]
                        from shape in Gen.Long[0, 3].Array[0, 3]
                        from seed in Gen.Int
                        select Tensor(name.Length == 0 ? "t" : name, Datatypes[datatype], shape, seed)).Array[1, 3]
        from outputs in Names.Array[0, 2]
        from id in Gen.Null(Names)
        select new InferenceRequest
        {
            Id = id,
            Inputs = inputs,
            Outputs = outputs.Length == 0 ? null : [.. outputs.Where(o => o.Length > 0).Select(o => new RequestedOutput(o, null))],
            Parameters = id is null ? null : new Dictionary<string, object?> { ["p"] = 1L, ["q"] = "s" },
        };

    private static InferenceTensor Tensor(string name, TensorDatatype datatype, long[] shape, int seed)
    {
        var random = new Random(seed);
        int count = (int)InferenceTensor.ElementCount(shape);
        var bytes = new byte[count * 8];
        random.NextBytes(bytes);
        Array data = datatype switch
        {
            TensorDatatype.Bool => bytes.Take(count).Select(b => (b & 1) != 0).ToArray(),
            TensorDatatype.UInt8 => bytes.Take(count).ToArray(),
            TensorDatatype.UInt16 => MemoryMarshal.Cast<byte, ushort>(bytes)[..count].ToArray(),
            TensorDatatype.UInt32 => MemoryMarshal.Cast<byte, uint>(bytes)[..count].ToArray(),
            TensorDatatype.UInt64 => MemoryMarshal.Cast<byte, ulong>(bytes)[..count].ToArray(),
            TensorDatatype.Int8 => MemoryMarshal.Cast<byte, sbyte>(bytes)[..count].ToArray(),
            TensorDatatype.Int16 => MemoryMarshal.Cast<byte, short>(bytes)[..count].ToArray(),
            TensorDatatype.Int32 => MemoryMarshal.Cast<byte, int>(bytes)[..count].ToArray(),
            TensorDatatype.Int64 => MemoryMarshal.Cast<byte, long>(bytes)[..count].ToArray(),
            TensorDatatype.Fp16 => MemoryMarshal.Cast<byte, Half>(bytes)[..count].ToArray(),
            TensorDatatype.Bf16 => MemoryMarshal.Cast<byte, BFloat16>(bytes)[..count].ToArray(),
            TensorDatatype.Fp32 => MemoryMarshal.Cast<byte, float>(bytes)[..count].ToArray(),
            TensorDatatype.Fp64 => MemoryMarshal.Cast<byte, double>(bytes)[..count].ToArray(),
            _ => Enumerable.Range(0, count).Select(i => random.Next(3) switch { 0 => "", 1 => "h\u00e9llo", _ => new string((char)random.Next(32, 0xD7FF), random.Next(5)) }).ToArray(),
        };
        return new InferenceTensor(name, datatype, shape, data);
    }

    /// <summary>1–8 byte-wise edits: overwrite, insert, delete, truncate, duplicate a slice, or flip a bit.</summary>
    private static readonly Gen<(int Op, int Position, int Length, byte Value)[]> Mutations =
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, int.MaxValue], Gen.Int[1, 16], Gen.Byte).Array[1, 8];

    private static byte[] Mutate(byte[] input, (int Op, int Position, int Length, byte Value)[] edits)
    {
        var bytes = new List<byte>(input);
        foreach (var (op, position, length, value) in edits)
        {
            int at = bytes.Count == 0 ? 0 : position % bytes.Count;
            switch (op)
            {
                case 0 when bytes.Count > 0: bytes[at] = value; break;
                case 1: bytes.Insert(at, value); break;
                case 2 when bytes.Count > 0: bytes.RemoveRange(at, Math.Min(length, bytes.Count - at)); break;
                case 3: bytes.RemoveRange(at, bytes.Count - at); break;
                case 4 when bytes.Count > 0: bytes.InsertRange(at, bytes.GetRange(at, Math.Min(length, bytes.Count - at))); break;
                case 5 when bytes.Count > 0: bytes[at] ^= (byte)(1 << (value & 7)); break;
            }
        }

        return [.. bytes];
    }

    private static void Only<TAllowed>(Action decode)
        where TAllowed : Exception
    {
        try
        {
            decode();
        }
        catch (TAllowed)
        {
            // documented: a 400 (or gRPC INVALID_ARGUMENT) with the message
        }
    }

    private void Timed(string what, int count, Action run)
    {
        long started = Stopwatch.GetTimestamp();
        run();
        output.WriteLine($"{what}: {count} inputs in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
    }

    // ---- V2 JSON --------------------------------------------------------------------------------------------

    private static readonly Gen<string> JsonScalars = Gen.OneOf(
        Gen.Long.Select(v => v.ToString(CultureInfo.InvariantCulture)),
        Gen.Double.Select(v => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "1e400"),
        Gen.OneOf<string>("true", "false", "null", "-0", "1e999", "-1e-999", "18446744073709551616", "0.5", "\"NaN\"", "\"\\u0000\"", "\"\\ud800\""),
        Names.Select(Quote));

    private static readonly Gen<string> JsonValues = Gen.Recursive<string>((depth, self) => depth > 3
        ? JsonScalars
        : Gen.Frequency(
            (4, JsonScalars),
            (2, self.Array[0, 5].Select(items => "[" + string.Join(',', items) + "]")),
            (1, Gen.Select(Names, self).Array[0, 3].Select(props => "{" + string.Join(',', props.Select(p => Quote(p.Item1) + ":" + p.Item2)) + "}"))));

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    private static readonly Gen<string> JsonBodies =
        from inputs in (from name in Names
                        from datatype in Gen.OneOf(Gen.Int[0, Datatypes.Length - 1].Select(i => Datatypes[i].ToWireName()), Names)
                        from shape in Dims.Array[0, 4]
                        from data in JsonValues
                        from parameters in Gen.Bool
                        from binarySize in Gen.Nullable(Gen.Long[-2, 1L << 40])
                        select "{\"name\":" + Quote(name) + ",\"datatype\":" + Quote(datatype) + ",\"shape\":[" + string.Join(',', shape) + "],\"data\":" + data
                            + (parameters ? ",\"parameters\":{\"binary_data_size\":" + (binarySize?.ToString(CultureInfo.InvariantCulture) ?? "\"x\"") + "}" : "") + "}").Array[0, 3]
        from outputs in Names.Array[0, 2]
        select "{\"id\":\"r\",\"inputs\":[" + string.Join(',', inputs) + "],\"outputs\":[" + string.Join(',', outputs.Select(o => "{\"name\":" + Quote(o) + "}")) + "]}";

    [Fact]
    public void Fuzz_V2JsonDecoder_OnlyEverThrowsInferenceProtocolException() =>
        Timed("V2 JSON", JsonInputs, () =>
        {
            // Half random structure, half valid bodies mutated byte-wise.
            JsonBodies.Sample(body => Only<InferenceProtocolException>(() => V2JsonCodec.DecodeRequest(Encoding.UTF8.GetBytes(body))), iter: JsonInputs / 2);
            Gen.Select(Requests, Mutations).Sample(x =>
            {
                var buffer = new ArrayBufferWriter<byte>();
                V2JsonCodec.WriteRequest(buffer, x.Item1);
                byte[] mutated = Mutate(buffer.WrittenSpan.ToArray(), x.Item2);
                Only<InferenceProtocolException>(() => V2JsonCodec.DecodeRequest(mutated));
            }, iter: JsonInputs / 2);
        });

    // ---- binary tensor data ---------------------------------------------------------------------------------

    [Fact]
    public void Fuzz_BinaryTensorDataDecoder_OnlyEverThrowsInferenceProtocolException() =>
        Timed("binary tensor data", BinaryInputs, () =>
            Gen.Select(Requests, Mutations, Gen.Bool, Gen.Int[-8, 8]).Sample(x =>
            {
                var (request, edits, mutate, headerShift) = x;
                var buffer = new ArrayBufferWriter<byte>();
                bool[] binary = [.. request.Inputs.Select((_, i) => i % 2 == 0 || mutate)];
                int headerLength = BinaryTensorData.WriteRequest(buffer, request, binary);
                byte[] body = buffer.WrittenSpan.ToArray();
                if (mutate)
                {
                    body = Mutate(body, edits);
                    headerLength = Math.Clamp(headerLength + headerShift, 0, int.MaxValue);
                }

                Only<InferenceProtocolException>(() =>
                {
                    int length = BinaryTensorData.ParseHeaderLength(headerLength.ToString(CultureInfo.InvariantCulture), body.Length);
                    BinaryTensorData.DecodeRequest(new ReadOnlySequence<byte>(body), length);
                });
            }, iter: BinaryInputs));

    // ---- gRPC ModelInfer ------------------------------------------------------------------------------------

    private static readonly Gen<InferParameter> Parameters = Gen.OneOf(
        Gen.Bool.Select(b => new InferParameter { BoolParam = b }),
        Gen.Long.Select(l => new InferParameter { Int64Param = l }),
        Gen.ULong.Select(u => new InferParameter { Uint64Param = u }),
        Gen.Double.Select(d => new InferParameter { DoubleParam = d }),
        Names.Select(s => new InferParameter { StringParam = s }),
        Gen.Const(new InferParameter()));

    private static readonly Gen<InferTensorContents> Contents =
        from kind in Gen.Int[0, 8]
        from count in Gen.Int[0, 12]
        from seed in Gen.Int
        select TypedContents(kind, count, new Random(seed));

    private static InferTensorContents TypedContents(int kind, int count, Random random)
    {
        var c = new InferTensorContents();
        for (int i = 0; i < count; i++)
        {
            switch (kind)
            {
                case 0: c.BoolContents.Add(random.Next(2) == 0); break;
                case 1: c.IntContents.Add(random.Next(4) == 0 ? random.Next() : random.Next(-300, 300)); break;
                case 2: c.Int64Contents.Add(random.NextInt64()); break;
                case 3: c.UintContents.Add((uint)random.Next(-2, 70_000)); break;
                case 4: c.Uint64Contents.Add((ulong)random.NextInt64()); break;
                case 5: c.Fp32Contents.Add((float)random.NextDouble()); break;
                case 6: c.Fp64Contents.Add(random.NextDouble()); break;
                case 7:
                    var b = new byte[random.Next(6)];
                    random.NextBytes(b);
                    c.BytesContents.Add(ByteString.CopyFrom(b)); // often not UTF-8
                    break;
            }
        }

        return c;
    }

    private static readonly string[] WireNames = [.. Datatypes.Select(d => d.ToWireName()), "BF16", "fp32", "", "STRING"];

    private static readonly Gen<ModelInferRequest.Types.InferInputTensor> GrpcInputs =
        from name in Names
        from datatype in Gen.Int[0, WireNames.Length - 1]
        from shape in Dims.Array[0, 4]
        from contents in Gen.Null(Contents)
        from parameter in Gen.Nullable(Gen.Select(Names, Parameters))
        select Input(name, WireNames[datatype], shape, contents, parameter);

    private static ModelInferRequest.Types.InferInputTensor Input(string name, string datatype, long[] shape, InferTensorContents? contents, (string, InferParameter)? parameter)
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = datatype, Shape = { shape }, Contents = contents };
        if (parameter is var (key, value))
        {
            input.Parameters[key] = value;
        }

        return input;
    }

    private static readonly Gen<ModelInferRequest> GrpcRequests =
        from inputs in GrpcInputs.Array[0, 4]
        from raw in Gen.Int[0, 2] // none, random entries, entries sized for the shapes
        from rawBytes in Gen.Byte.Array[0, 48].Array[0, 5]
        from outputs in Names.Array[0, 2]
        from parameter in Gen.Nullable(Gen.Select(Names, Parameters))
        select GrpcRequest(inputs, raw, rawBytes, outputs, parameter);

    private static ModelInferRequest GrpcRequest(ModelInferRequest.Types.InferInputTensor[] inputs, int raw, byte[][] rawBytes, string[] outputs, (string, InferParameter)? parameter)
    {
        var request = new ModelInferRequest { ModelName = "m", Inputs = { inputs } };
        request.Outputs.AddRange(outputs.Select(o => new ModelInferRequest.Types.InferRequestedOutputTensor { Name = o }));
        if (raw == 1)
        {
            request.RawInputContents.AddRange(rawBytes.Select(ByteString.CopyFrom));
        }
        else if (raw == 2)
        {
            foreach (var input in inputs)
            {
                input.Contents = null;
                long count = 1;
                foreach (long d in input.Shape)
                {
                    count = d is >= 0 and <= 64 ? count * d : 1;
                }

                var type = TensorDatatypes.Parse(input.Datatype);
                int size = type is TensorDatatype.Invalid or TensorDatatype.Bytes ? 4 : Marshal.SizeOf(type == TensorDatatype.Bool ? typeof(byte) : type.ElementType());
                request.RawInputContents.Add(ByteString.CopyFrom(new byte[Math.Min(count * size, 4096)]));
            }
        }

        if (parameter is var (key, value))
        {
            request.Parameters[key] = value;
        }

        return request;
    }

    [Fact]
    public void Fuzz_GrpcDecoder_OnlyEverThrowsInferenceProtocolException() =>
        Timed("gRPC ModelInfer", GrpcCount, () =>
        {
            var limits = new GrpcRequestLimits();
            var marshaller = limits.RequestMarshaller();

            // Generated messages straight into the codec, as the server hands them over.
            GrpcRequests.Sample(request => Only<InferenceProtocolException>(() => GrpcTensorCodec.Decode(request)), iter: GrpcCount / 2);

            // Their wire bytes mutated, through the bounded marshaller (wire scan, parse) and the codec.
            Gen.Select(GrpcRequests, Mutations).Sample(x =>
            {
                byte[] wire = Mutate(x.Item1.ToByteArray(), x.Item2);
                ModelInferRequest parsed;
                try
                {
                    parsed = marshaller.ContextualDeserializer(new GrpcRequestLimitsTests.Payload(wire));
                    GrpcRequestLimits.ThrowIfRefused(parsed);
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.ResourceExhausted)
                {
                    return;
                }

                Only<InferenceProtocolException>(() => GrpcTensorCodec.Decode(parsed));
            }, iter: GrpcCount / 2);
        });

    // ---- pipeline spec parser + validator -------------------------------------------------------------------

    private static readonly string[] Models = ["iris", "iris:1", "iris:0", "scorer", "scorer:2", "intscorer", "wide", "flat", "tfsimple1", "tfsimple2", "nope", "-x", "iris:99999999999999999999"];

    private static readonly string[] References =
        ["s0", "s1", "s2", "s0.outputs", "s0.outputs.Score", "s1.outputs.Risk", "s0.outputs.PredictedLabel", "pipeline.inputs.Features", "pipeline.inputs", "s9.outputs.x", "s0.inputs.Features", "a.b.c.d", ".", ""];

    private static readonly string[] Conditions =
        ["s0.outputs.Score[:, 0] > 0.5", "s0.outputs.Score[0,1] >= 1e309", "s0.outputs.Score[99999999999] == 1", "s0.outputs.PredictedLabel[:,0] == 'x'",
         "((((", "s0.outputs.Score[:,0] > 1 and", "not s0.outputs.Score", "s0.outputs.Score[-1, -1] < -0", "true", "s1.outputs.Risk[:, 0] between 1 and 2", "x" + new string('[', 40)];

    private static readonly Gen<string> Scalars = Gen.OneOf(Gen.Int[0, Models.Length - 1].Select(i => Models[i]), Gen.Int[0, References.Length - 1].Select(i => References[i]), Names,
        Gen.OneOf<string>("1", "-1", "0", "600001", "99999999999999999999", "true", "null", "1.5", "[]", "{}", "any", "all", "inner", "outer"));

    private static string Yaml(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static readonly Gen<string> Steps =
        from i in Gen.Int[0, 3]
        from model in Gen.Int[0, Models.Length - 1]
        from inputs in Gen.Int[0, References.Length - 1].Array[0, 3]
        from map in Gen.Select(Gen.Int[0, References.Length - 1], Scalars).Array[0, 2]
        from when in Gen.Nullable(Gen.Int[0, Conditions.Length - 1])
        from extra in Gen.Select(Gen.OneOf<string>("perRow", "timeoutMs", "retries", "inputsJoinType", "triggersJoinType", "triggers", "bogus"), Scalars).Array[0, 2]
        select "- name: s" + i + "\n  model: " + Yaml(Models[model])
            + "\n  inputs: [" + string.Join(", ", inputs.Select(r => Yaml(References[r]))) + "]"
            + (map.Length > 0 ? "\n  tensorMap: {" + string.Join(", ", map.DistinctBy(m => m.Item1).Select(m => Yaml(References[m.Item1]) + ": " + Yaml(m.Item2))) + "}" : "")
            + (when is int c ? "\n  when: " + Yaml(Conditions[c]) : "")
            + string.Concat(extra.DistinctBy(e => e.Item1).Select(e => "\n  " + e.Item1 + ": " + (e.Item1 == "triggers" ? "[" + Yaml(e.Item2) + "]" : Yaml(e.Item2).Trim('\'')))) + "\n";

    private static readonly Gen<string> Specs =
        from name in Gen.OneOf(Gen.OneOf<string>("p", "fraud", "p.pipeline", ""), Names)
        from steps in Steps.Array[0, 4]
        from output in Gen.Null(Gen.Int[0, References.Length - 1].Array[0, 2])
        select "name: " + Yaml(name) + "\nsteps:\n" + string.Concat(steps)
            + (output is null ? "" : "output:\n  steps: [" + string.Join(", ", output.Select(r => Yaml(References[r]))) + "]\n");

    private static readonly string[] ValidSpecs =
    [
        PipelineSpecParserTests.SeldonTfsimples,
        "name: p\nsteps:\n- {name: a, model: iris}\n- {name: b, model: scorer, inputs: [a.outputs.Score], when: 'a.outputs.Score[:, 0] > 0.5', perRow: true}\noutput: {steps: [b]}\n",
        "{\"name\":\"p\",\"steps\":[{\"name\":\"a\",\"model\":\"iris\"},{\"name\":\"b\",\"model\":\"scorer\",\"inputs\":[\"a.outputs.Score\"]}],\"output\":{\"steps\":[\"b\"]}}",
    ];

    [Fact]
    public void Fuzz_PipelineSpecParserAndValidator_OnlyEverThrowPipelineSpecException() =>
        Timed("pipeline specs", PipelineInputs, () =>
        {
            static void ParseAndValidate(string text) => Only<PipelineSpecException>(() =>
                PipelineValidator.Validate(PipelineSpecParser.Parse(text, null), FakeSchemas.Lookup));

            Specs.Sample(ParseAndValidate, iter: PipelineInputs / 2);
            Gen.Select(Gen.Int[0, ValidSpecs.Length - 1], Mutations).Sample(x =>
                ParseAndValidate(Encoding.UTF8.GetString(Mutate(Encoding.UTF8.GetBytes(ValidSpecs[x.Item1]), x.Item2))), iter: PipelineInputs / 2);
        });

    // ---- experiment spec parser + validator (+ the rollout rule on what the validator accepts) -----------------

    private static readonly ExperimentWorld ExperimentWorld = new(
        new Dictionary<string, IReadOnlySet<int>> { ["iris"] = new HashSet<int> { 1, 2, 3 }, ["other"] = new HashSet<int> { 1 } },
        new HashSet<string> { "pipe-a", "pipe-b" },
        new Dictionary<string, string> { ["other"] = "running-one" });

    private static readonly Gen<string> ExperimentScalars = Gen.OneOf(
        Gen.OneOf<string>("iris", "iris@1", "iris@2", "other", "pipe-a", "pipe-b", "nope", "model", "pipeline", "", "~", "null", "true", "[]", "{}",
            "0", "-1", "1", "2", "70", "100", "100.5", "1e309", "-0", "NaN", ".inf", "99999999999999999999", "0.05", "10m", "1s", "500ms", "1d", "0s", "1h30m",
            "9999999999999d", "1.5.5m", "m", "&a", "*a", "!!binary x", "'unterminated", "\"q\"", "- x", "a: b", "{a: [b"),
        Gen.Int[-5, 200].Select(i => i.ToString(CultureInfo.InvariantCulture)),
        Gen.Double[-2, 200].Select(d => d.ToString("R", CultureInfo.InvariantCulture)),
        Names);

    private static readonly string[] ExperimentKeys =
        ["name", "resourceType", "candidates", "default", "mirror", "rollout", "version", "weight", "percent", "candidate", "steps", "interval",
         "maxErrorRate", "maxP95Ms", "minRequests", "NAME", "bogus", ""];

    /// <summary>Random YAML-ish structure: the spec's fields (and others) over scalars, lists and maps, nested a few levels.</summary>
    private static readonly Gen<string> ExperimentYaml = Gen.Recursive<string>((depth, self) => depth >= 3
        ? ExperimentScalars
        : Gen.Frequency(
            (3, ExperimentScalars),
            (2, self.Array[0, 4].Select(items => "[" + string.Join(", ", items) + "]")),
            (3, Gen.Select(Gen.Int[0, ExperimentKeys.Length - 1], self).Array[0, 5]
                .Select(fields => "{" + string.Join(", ", fields.Select(f => ExperimentKeys[f.Item1] + ": " + f.Item2)) + "}"))));

    private static readonly Gen<string> ExperimentSpecs =
        from name in Gen.OneOf(Gen.OneOf<string>("ab", "iris-ab", "x.experiment", ""), Names)
        from type in Gen.OneOf<string>("model", "pipeline", "bogus", "")
        from candidates in (from n in Gen.OneOf<string>("iris", "other", "pipe-a", "pipe-b", "nope")
                            from version in Gen.Nullable(Gen.Int[-1, 4])
                            from weight in ExperimentScalars
                            select "  - { name: " + n + (version is int v ? ", version: " + v.ToString(CultureInfo.InvariantCulture) : "") + ", weight: " + weight + " }\n").Array[0, 4]
        from fallback in Gen.Null(ExperimentScalars)
        from mirror in Gen.Nullable(Gen.Select(ExperimentScalars, ExperimentScalars))
        from rollout in Gen.Nullable(Gen.Select(ExperimentScalars, Gen.Double[-10, 150].Array[0, 5], ExperimentScalars, Gen.Select(ExperimentScalars, ExperimentScalars, ExperimentScalars)))
        from extra in Gen.Nullable(Gen.Select(Gen.Int[0, ExperimentKeys.Length - 1], ExperimentYaml))
        select "name: " + Yaml(name) + "\nresourceType: " + type + "\ncandidates:\n" + string.Concat(candidates)
            + (fallback is null ? "" : "default: " + fallback + "\n")
            + (mirror is null ? "" : "mirror: { name: " + mirror.Value.Item1 + ", percent: " + mirror.Value.Item2 + " }\n")
            + (rollout is null ? "" : "rollout: { candidate: " + rollout.Value.Item1 + ", steps: [" + string.Join(", ", rollout.Value.Item2.Select(d => d.ToString("R", CultureInfo.InvariantCulture)))
                + "], interval: " + rollout.Value.Item3 + ", maxErrorRate: " + rollout.Value.Item4.Item1 + ", maxP95Ms: " + rollout.Value.Item4.Item2 + ", minRequests: " + rollout.Value.Item4.Item3 + " }\n")
            + (extra is null ? "" : ExperimentKeys[extra.Value.Item1] + ": " + extra.Value.Item2 + "\n");

    private static readonly string[] ValidExperimentSpecs =
    [
        "name: iris-ab\ncandidates:\n  - { name: iris, version: 1, weight: 70 }\n  - { name: iris, version: 2, weight: 30 }\ndefault: iris@1\nmirror: { name: iris, version: 3, percent: 10 }\n"
            + "rollout: { candidate: iris@2, steps: [5, 25, 50, 100], interval: 10m, maxErrorRate: 0.05, maxP95Ms: 200, minRequests: 50 }\n",
        "name: pipes\nresourceType: pipeline\ncandidates:\n- name: pipe-a\n  weight: 1\n- name: pipe-b\n  weight: 1\ndefault: pipe-a\n",
        "{\"name\":\"ab\",\"candidates\":[{\"name\":\"iris\",\"version\":1,\"weight\":1},{\"name\":\"iris\",\"version\":2,\"weight\":1}],"
            + "\"rollout\":{\"candidate\":\"iris@2\",\"steps\":[50,100],\"interval\":\"30s\",\"minRequests\":5}}",
    ];

    /// <summary>Parses and validates; a spec the validator accepts must also be one the rollout rule and the weights can run.</summary>
    private static void ParseValidateAndDecide(string text, string? contentType) => Only<ExperimentSpecException>(() =>
    {
        var spec = ExperimentSpecParser.Parse(text, contentType);
        if (ExperimentValidator.Validate(spec, ExperimentWorld).Count == 0 && spec.Rollout is { } rollout)
        {
            var weights = spec.Candidates.DistinctBy(c => ExperimentValidator.KeyOf(c.Name, c.Version)).ToDictionary(c => ExperimentValidator.KeyOf(c.Name, c.Version), c => c.Weight, StringComparer.Ordinal);
            var now = DateTimeOffset.UnixEpoch.AddDays(1);
            RolloutStateMachine.Decide(rollout, -1, now, now, new RolloutFigures(0, 0, null), weights);
            RolloutStateMachine.Decide(rollout, 0, now.AddHours(-1), now, new RolloutFigures(10, 1, 12.5), weights);
            RolloutStateMachine.WeightsAt(rollout, rollout.Steps.Count - 1, weights);
        }
    });

    [Fact]
    public void Fuzz_ExperimentSpecParserAndValidator_OnlyEverThrowExperimentSpecException() =>
        Timed("experiment specs", ExperimentInputs, () =>
        {
            ExperimentSpecs.Sample(text => ParseValidateAndDecide(text, "application/yaml"), iter: ExperimentInputs * 3 / 10);
            ExperimentYaml.Sample(text => ParseValidateAndDecide(text, null), iter: ExperimentInputs / 10);
            Gen.String.Sample(text => ParseValidateAndDecide(text, null), iter: ExperimentInputs / 10);
            Gen.Select(Gen.Int[0, ValidExperimentSpecs.Length - 1], Mutations, Gen.Bool).Sample(x =>
                ParseValidateAndDecide(Encoding.UTF8.GetString(Mutate(Encoding.UTF8.GetBytes(ValidExperimentSpecs[x.Item1]), x.Item2)), x.Item3 ? null : "application/json"),
                iter: ExperimentInputs / 2);
        });
}
