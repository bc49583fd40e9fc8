using Mds.Contracts.Inference;

namespace Mds.Backend.Streams;

/// <summary>
/// Combining stream messages into one inference call, with the worker's adaptive batcher's rules (DynamicBatcher in
/// Mds.Workers): messages join the oldest one when they ask for the same outputs and every input has the same shape
/// beyond the first dimension, up to the version's max batch size in rows; they are concatenated along the first
/// dimension and each gets its own rows of every output back. Requests the batcher would run alone (inputs disagreeing
/// on the row count) are never combined here, and neither are messages whose tensors or request carry parameters (they
/// could not be told apart in one call). When the model refuses a combined call, each message is run on its own, so
/// only a bad one fails.
/// </summary>
public static class StreamBatching
{
    /// <summary>Whether <paramref name="candidate"/> can share a call with <paramref name="first"/>.</summary>
    public static bool Matches(DecodedMessage first, DecodedMessage candidate)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(candidate);
        if (first.Rows <= 0 || candidate.Rows <= 0 || !Plain(first.Request) || !Plain(candidate.Request))
        {
            return false;
        }

        if (!SameOutputs(first.Request.Outputs, candidate.Request.Outputs))
        {
            return false;
        }

        var a = first.Request.Inputs;
        var b = candidate.Request.Inputs;
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (!string.Equals(a[i].Name, b[i].Name, StringComparison.Ordinal) || a[i].Datatype != b[i].Datatype || !a[i].SameRowShape(b[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>One request holding every message's rows, in batch order (the first message's id and requested outputs).</summary>
    public static InferenceRequest Concatenate(IReadOnlyList<DecodedMessage> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var first = batch[0].Request;
        long rows = batch.Sum(m => m.Rows);
        var merged = new InferenceTensor[first.Inputs.Count];
        for (int slot = 0; slot < merged.Length; slot++)
        {
            var template = first.Inputs[slot];
            long[] shape = (long[])template.Shape.Clone();
            shape[0] = rows;
            long perRow = InferenceTensor.ElementCount(template.Shape.AsSpan(1));
            var data = Array.CreateInstance(template.Data.GetType().GetElementType()!, checked(rows * perRow));
            long offset = 0;
            foreach (var message in batch)
            {
                var part = message.Request.Inputs[slot].Data;
                Array.Copy(part, 0, data, offset, part.Length);
                offset += part.Length;
            }

            merged[slot] = new InferenceTensor(template.Name, template.Datatype, shape, data);
        }

        return new InferenceRequest { Id = first.Id, Inputs = merged, Outputs = first.Outputs };
    }

    /// <summary>Each message's own answer: its rows of every output, with its own request's id.</summary>
    /// <exception cref="InferenceProtocolException">An output's first dimension is not the batch's row count, so the answer cannot be split.</exception>
    public static InferenceResponse[] Split(InferenceResponse response, IReadOnlyList<DecodedMessage> batch)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(batch);
        long rows = batch.Sum(m => m.Rows);
        var outputs = new InferenceTensor[batch.Count][];
        for (int i = 0; i < outputs.Length; i++)
        {
            outputs[i] = new InferenceTensor[response.Outputs.Count];
        }

        for (int o = 0; o < response.Outputs.Count; o++)
        {
            var output = response.Outputs[o];
            if (output.Shape.Length == 0 || output.Shape[0] != rows)
            {
                throw new InferenceProtocolException($"output '{output.Name}' does not have one row per input row, so a batch cannot be split");
            }

            long perRow = InferenceTensor.ElementCount(output.Shape.AsSpan(1));
            var elementType = output.Data.GetType().GetElementType()!;
            long offset = 0;
            for (int i = 0; i < batch.Count; i++)
            {
                long count = batch[i].Rows * perRow;
                var data = Array.CreateInstance(elementType, count);
                Array.Copy(output.Data, offset, data, 0, count);
                offset += count;
                long[] shape = (long[])output.Shape.Clone();
                shape[0] = batch[i].Rows;
                outputs[i][o] = new InferenceTensor(output.Name, output.Datatype, shape, data, output.Parameters);
            }
        }

        var answers = new InferenceResponse[batch.Count];
        for (int i = 0; i < answers.Length; i++)
        {
            answers[i] = new InferenceResponse
            {
                ModelName = response.ModelName, ModelVersion = response.ModelVersion, Id = batch[i].Request.Id,
                Parameters = response.Parameters, Outputs = outputs[i],
            };
        }

        return answers;
    }

    private static bool Plain(InferenceRequest request)
    {
        if (request.Parameters is { Count: > 0 })
        {
            return false;
        }

        foreach (var input in request.Inputs)
        {
            if (input.Parameters is { Count: > 0 })
            {
                return false;
            }
        }

        return true;
    }

    private static bool SameOutputs(IReadOnlyList<RequestedOutput>? a, IReadOnlyList<RequestedOutput>? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (!string.Equals(a[i].Name, b[i].Name, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}
