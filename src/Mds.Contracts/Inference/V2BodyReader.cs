using System.Text.Json;

namespace Mds.Contracts.Inference;

/// <summary>
/// Reads V2 request and response bodies with one forward pass of a <see cref="Utf8JsonReader"/> (see
/// <see cref="V2JsonCodec"/> for the rules). Hot path: a tensor's <c>data</c> is decoded where it stands when its
/// shape and datatype came before it; otherwise the reader is copied there, the data skipped, and decoded from the
/// copy once the tensor object has been read.
/// </summary>
internal static class V2BodyReader
{
    /// <summary>Strict JSON: no comments, no trailing commas.</summary>
    public static readonly JsonReaderOptions Options = new() { CommentHandling = JsonCommentHandling.Disallow };

    private const int MaxRankBeforeResize = 8;

    /// <summary>
    /// Reads a request body; <paramref name="bodyLength"/> is the JSON's length in bytes; inputs with
    /// <c>binary_data_size</c> take their data from <paramref name="binary"/>, which they must use up exactly.
    /// </summary>
    public static InferenceRequest ReadRequest(ref Utf8JsonReader reader, long bodyLength, ref BinarySection binary)
    {
        var scope = DecodeScope.Body("request");
        ReadBodyStart(ref reader, "request");
        string? id = null;
        Dictionary<string, object?>? parameters = null;
        List<InferenceTensor>? inputs = null;
        List<RequestedOutput>? outputs = null;
        int seen = 0;
        while (NextProperty(ref reader))
        {
            if (reader.ValueTextEquals("inputs"u8))
            {
                scope.MarkOnce(ref seen, 1, "inputs");
                inputs = ReadTensors(ref reader, ref scope, "inputs", "input", bodyLength, ref binary);
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                scope.MarkOnce(ref seen, 2, "id");
                id = ReadOptionalString(ref reader, ref scope, "id");
            }
            else if (reader.ValueTextEquals("parameters"u8))
            {
                scope.MarkOnce(ref seen, 4, "parameters");
                parameters = ReadParameters(ref reader, ref scope);
            }
            else if (reader.ValueTextEquals("outputs"u8))
            {
                scope.MarkOnce(ref seen, 8, "outputs");
                outputs = ReadRequestedOutputs(ref reader, ref scope);
            }
            else
            {
                reader.Skip();
            }
        }

        ReadBodyEnd(ref reader, "request");
        RejectUnusedBinary(ref binary, "inputs");
        if (inputs is null)
        {
            throw scope.Missing("inputs");
        }

        if (inputs.Count == 0)
        {
            throw scope.Error("'inputs' is empty");
        }

        return new InferenceRequest { Id = id, Parameters = parameters, Inputs = inputs, Outputs = outputs };
    }

    /// <summary>Reads a response body; as <see cref="ReadRequest"/>, for outputs.</summary>
    public static InferenceResponse ReadResponse(ref Utf8JsonReader reader, long bodyLength, ref BinarySection binary)
    {
        var scope = DecodeScope.Body("response");
        ReadBodyStart(ref reader, "response");
        string? modelName = null;
        string? modelVersion = null;
        string? id = null;
        Dictionary<string, object?>? parameters = null;
        List<InferenceTensor>? outputs = null;
        int seen = 0;
        while (NextProperty(ref reader))
        {
            if (reader.ValueTextEquals("outputs"u8))
            {
                scope.MarkOnce(ref seen, 1, "outputs");
                outputs = ReadTensors(ref reader, ref scope, "outputs", "output", bodyLength, ref binary);
            }
            else if (reader.ValueTextEquals("model_name"u8))
            {
                scope.MarkOnce(ref seen, 2, "model_name");
                modelName = ReadString(ref reader, ref scope, "model_name");
            }
            else if (reader.ValueTextEquals("model_version"u8))
            {
                scope.MarkOnce(ref seen, 4, "model_version");
                modelVersion = ReadOptionalString(ref reader, ref scope, "model_version");
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                scope.MarkOnce(ref seen, 8, "id");
                id = ReadOptionalString(ref reader, ref scope, "id");
            }
            else if (reader.ValueTextEquals("parameters"u8))
            {
                scope.MarkOnce(ref seen, 16, "parameters");
                parameters = ReadParameters(ref reader, ref scope);
            }
            else
            {
                reader.Skip();
            }
        }

        ReadBodyEnd(ref reader, "response");
        RejectUnusedBinary(ref binary, "outputs");
        if (modelName is null)
        {
            throw scope.Missing("model_name");
        }

        if (outputs is null)
        {
            throw scope.Missing("outputs");
        }

        return new InferenceResponse { ModelName = modelName, ModelVersion = modelVersion, Id = id, Parameters = parameters, Outputs = outputs };
    }

    private static void ReadBodyStart(ref Utf8JsonReader reader, string body)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InferenceProtocolException($"{body} body must be a JSON object");
        }
    }

    private static void ReadBodyEnd(ref Utf8JsonReader reader, string body)
    {
        // Content after the object already fails inside Read(); this only guards a reader set to allow more values.
        if (reader.Read())
        {
            throw new InferenceProtocolException($"{body} body has content after its JSON object");
        }
    }

    private static void RejectUnusedBinary(ref BinarySection binary, string tensors)
    {
        if (binary.IsPresent && binary.Remaining != 0)
        {
            throw new InferenceProtocolException(
                $"the {tensors}' '{BinaryTensorReader.SizeParameter}' add up to {binary.Used} bytes but {binary.Length} bytes of binary data follow the JSON header");
        }
    }

    /// <summary>Moves to the next property name of the current object; false on its closing brace.</summary>
    private static bool NextProperty(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType != JsonTokenType.EndObject;
    }

    private static List<InferenceTensor> ReadTensors(
        ref Utf8JsonReader reader, ref DecodeScope owner, string property, string kind, long bodyLength, ref BinarySection binary)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw owner.Error($"'{property}' must be an array");
        }

        var tensors = new List<InferenceTensor>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            tensors.Add(ReadTensor(ref reader, kind, tensors.Count, bodyLength, ref binary));
        }

        RejectDuplicateNames(tensors, static t => t.Name, kind);
        return tensors;
    }

    private static InferenceTensor ReadTensor(ref Utf8JsonReader reader, string kind, int index, long bodyLength, ref BinarySection binary)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InferenceProtocolException($"{kind} #{index} must be a JSON object");
        }

        var scope = new DecodeScope(kind, index, reader);
        var datatype = TensorDatatype.Invalid;
        long[]? shape = null;
        int count = 0;
        Array? data = null;
        Dictionary<string, object?>? parameters = null;
        Utf8JsonReader deferredData = default;
        int seen = 0;
        while (NextProperty(ref reader))
        {
            if (reader.ValueTextEquals("name"u8))
            {
                scope.MarkOnce(ref seen, 1, "name");
                scope.Name = ReadString(ref reader, ref scope, "name");
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                scope.MarkOnce(ref seen, 2, "shape");
                shape = ReadShape(ref reader, ref scope, out count);
            }
            else if (reader.ValueTextEquals("datatype"u8))
            {
                scope.MarkOnce(ref seen, 4, "datatype");
                datatype = ReadDatatype(ref reader, ref scope);
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                scope.MarkOnce(ref seen, 8, "data");
                reader.Read();
                if (shape is not null && datatype != TensorDatatype.Invalid)
                {
                    data = TensorDataReader.Read(ref reader, ref scope, datatype, shape, count, bodyLength);
                }
                else
                {
                    // Shape or datatype comes later: remember where the data is and come back to it.
                    deferredData = reader;
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("parameters"u8))
            {
                scope.MarkOnce(ref seen, 16, "parameters");
                parameters = ReadParameters(ref reader, ref scope);
            }
            else
            {
                reader.Skip();
            }
        }

        string name = scope.Name ?? throw scope.Missing("name");
        if (shape is null)
        {
            throw scope.Missing("shape");
        }

        if (datatype == TensorDatatype.Invalid)
        {
            throw scope.Missing("datatype");
        }

        // Binary tensor data extension: binary_data_size instead of data; the bytes come in tensor order.
        long binarySize = BinaryTensorReader.TakeSize(ref parameters, ref scope);
        if ((seen & 8) == 0)
        {
            data = binarySize >= 0
                ? BinaryTensorReader.Read(ref binary, ref scope, datatype, shape, count, binarySize)
                : throw scope.Missing("data");
        }
        else if (binarySize >= 0)
        {
            throw scope.Error($"'data' and '{BinaryTensorReader.SizeParameter}' cannot both be given (binary data replaces 'data')");
        }

        data ??= TensorDataReader.Read(ref deferredData, ref scope, datatype, shape, count, bodyLength);
        return new InferenceTensor(name, datatype, shape, data, parameters);
    }

    private static long[] ReadShape(ref Utf8JsonReader reader, ref DecodeScope scope, out int count)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw scope.Error($"'shape' must be an array of non-negative integers, not {TensorDataReader.Describe(ref reader)}");
        }

        var dims = new long[MaxRankBeforeResize];
        int rank = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long dim) || dim < 0)
            {
                throw scope.Error($"shape dimension {rank} must be a non-negative integer, not {TensorDataReader.Describe(ref reader)}");
            }

            if (rank == dims.Length)
            {
                Array.Resize(ref dims, rank * 2);
            }

            dims[rank++] = dim;
        }

        long[] shape = dims.AsSpan(0, rank).ToArray();
        long total;
        try
        {
            total = InferenceTensor.ElementCount(shape);
        }
        catch (OverflowException)
        {
            total = long.MaxValue;
        }

        if (total > Array.MaxLength)
        {
            throw scope.Error($"shape {TensorDataReader.FormatShape(shape)} has too many elements");
        }

        count = (int)total;
        return shape;
    }

    private static TensorDatatype ReadDatatype(ref Utf8JsonReader reader, ref DecodeScope scope)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
        {
            throw scope.Error($"'datatype' must be a string, not {TensorDataReader.Describe(ref reader)}");
        }

        // The longest wire name is 6 characters, 36 bytes if a client escapes each one: longer is unknown.
        Span<char> chars = stackalloc char[36];
        long byteLength = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        var datatype = TensorDatatype.Invalid;
        if (byteLength <= chars.Length)
        {
            datatype = TensorDatatypes.Parse(chars[..reader.CopyString(chars)]);
        }

        if (datatype == TensorDatatype.Invalid)
        {
            throw scope.Error($"unsupported datatype '{DecodeScope.Truncate(reader.GetString()!)}'");
        }

        return datatype;
    }

    private static List<RequestedOutput>? ReadRequestedOutputs(ref Utf8JsonReader reader, ref DecodeScope owner)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw owner.Error("'outputs' must be an array");
        }

        var outputs = new List<RequestedOutput>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw new InferenceProtocolException($"requested output #{outputs.Count} must be a JSON object");
            }

            var scope = new DecodeScope("requested output", outputs.Count, reader);
            Dictionary<string, object?>? parameters = null;
            int seen = 0;
            while (NextProperty(ref reader))
            {
                if (reader.ValueTextEquals("name"u8))
                {
                    scope.MarkOnce(ref seen, 1, "name");
                    scope.Name = ReadString(ref reader, ref scope, "name");
                }
                else if (reader.ValueTextEquals("parameters"u8))
                {
                    scope.MarkOnce(ref seen, 2, "parameters");
                    parameters = ReadParameters(ref reader, ref scope);
                }
                else
                {
                    reader.Skip();
                }
            }

            outputs.Add(new RequestedOutput(scope.Name ?? throw scope.Missing("name"), parameters));
        }

        RejectDuplicateNames(outputs, static o => o.Name, "requested output");
        return outputs;
    }

    private static Dictionary<string, object?>? ReadParameters(ref Utf8JsonReader reader, ref DecodeScope scope)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw scope.Error($"'parameters' must be a JSON object, not {TensorDataReader.Describe(ref reader)}");
        }

        var parameters = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (NextProperty(ref reader))
        {
            string key = reader.GetString()!;
            if (parameters.ContainsKey(key))
            {
                throw scope.Error($"parameter '{DecodeScope.Truncate(key)}' appears more than once");
            }

            reader.Read();
            parameters.Add(key, ReadParameterValue(ref reader, ref scope, key));
        }

        return parameters;
    }

    private static object? ReadParameterValue(ref Utf8JsonReader reader, ref DecodeScope scope, string key)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.True:
                return true;
            case JsonTokenType.False:
                return false;
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out long integer))
                {
                    return integer;
                }

                if (reader.TryGetDouble(out double real) && double.IsFinite(real))
                {
                    return real;
                }

                throw scope.Error($"parameter '{DecodeScope.Truncate(key)}' is out of range ({TensorDataReader.Describe(ref reader)})");
            default:
                throw scope.Error(
                    $"parameter '{DecodeScope.Truncate(key)}' must be a string, number, boolean or null, not {TensorDataReader.Describe(ref reader)}");
        }
    }

    private static string ReadString(ref Utf8JsonReader reader, ref DecodeScope scope, string property)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.String
            ? reader.GetString()!
            : throw scope.Error($"'{property}' must be a string, not {TensorDataReader.Describe(ref reader)}");
    }

    private static string? ReadOptionalString(ref Utf8JsonReader reader, ref DecodeScope scope, string property)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Null => null,
            _ => throw scope.Error($"'{property}' must be a string, not {TensorDataReader.Describe(ref reader)}"),
        };
    }

    private static void RejectDuplicateNames<T>(List<T> items, Func<T, string> name, string kind)
    {
        if (items.Count < 2)
        {
            return;
        }

        var names = new HashSet<string>(items.Count, StringComparer.Ordinal);
        foreach (T item in items)
        {
            if (!names.Add(name(item)))
            {
                throw new InferenceProtocolException($"{kind} '{DecodeScope.Truncate(name(item))}' appears more than once");
            }
        }
    }
}
