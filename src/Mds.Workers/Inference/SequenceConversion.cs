using Mds.Contracts.Inference;
using Mds.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Mds.Workers.Inference;

/// <summary>
/// Turns ONNX Runtime's sequence outputs into V2 tensors: a sequence of maps (scikit-learn's ZipMap, one
/// label → probability map a row) into a <c>[rows, classes]</c> tensor whose columns follow the file's class labels,
/// and a sequence of equally shaped tensors into one tensor with the sequence as its first axis.
/// </summary>
internal static class SequenceConversion
{
    /// <exception cref="InferenceProtocolException">The value does not have the form the model's metadata promised.</exception>
    public static InferenceTensor ToTensor(ModelOutput output, OrtValue value)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(value);
        if (value.OnnxType != OnnxValueType.ONNX_TYPE_SEQUENCE)
        {
            throw new InferenceProtocolException($"output '{output.Name}' was expected to be a sequence but ONNX Runtime returned {value.OnnxType}");
        }

        return output.Form.Kind == OutputKind.SequenceOfMaps ? FromMaps(output, value) : FromTensors(output, value);
    }

    private static InferenceTensor FromMaps(ModelOutput output, OrtValue sequence)
    {
        var form = output.Form;
        var allocator = OrtAllocator.DefaultInstance;
        int rows = sequence.GetValueCount();
        int classes = form.Labels?.Count ?? -1;
        IReadOnlyList<string>? labels = form.Labels;
        double[]? wide = null;
        for (int row = 0; row < rows; row++)
        {
            using var map = sequence.GetValue(row, allocator);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            var probabilities = ReadValues(values);
            if (labels is null)
            {
                // The file did not name the labels (no ZipMap node made this output): the first row's keys, in map order, do.
                labels = ReadKeys(keys);
                classes = labels.Count;
            }

            wide ??= new double[checked(rows * classes)];
            if (probabilities.Length != classes)
            {
                throw new InferenceProtocolException($"output '{output.Name}' row {row} has {probabilities.Length} classes, expected {classes}");
            }

            Place(output, form, keys, probabilities, wide.AsSpan(row * classes, classes), labels);
        }

        classes = Math.Max(classes, labels?.Count ?? 0);
        wide ??= [];
        Array data = output.Datatype == TensorDatatype.Fp64 ? wide : Array.ConvertAll(wide, v => (float)v);
        var parameters = labels is null ? null : new Dictionary<string, object?> { [TensorMetadata.ClassLabelsParameter] = TensorMetadata.EncodeLabels(labels) };
        return new InferenceTensor(output.Name, output.Datatype, [rows, classes], data, parameters);
    }

    private static void Place(ModelOutput output, OutputForm form, OrtValue keys, double[] probabilities, Span<double> row, IReadOnlyList<string> labels)
    {
        var type = keys.GetTensorTypeAndShape().ElementDataType;
        if (type == TensorElementType.Int64)
        {
            var span = keys.GetTensorDataAsSpan<long>();
            for (int i = 0; i < span.Length; i++)
            {
                int column = form.Int64Columns is { } columns
                    ? columns.TryGetValue(span[i], out int c) ? c : -1
                    : IndexOf(labels, span[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
                Set(output, row, column, probabilities[i], span[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        else
        {
            var strings = keys.GetStringTensorAsArray();
            for (int i = 0; i < strings.Length; i++)
            {
                int column = form.StringColumns is { } columns
                    ? columns.TryGetValue(strings[i], out int c) ? c : -1
                    : IndexOf(labels, strings[i]);
                Set(output, row, column, probabilities[i], strings[i]);
            }
        }
    }

    private static void Set(ModelOutput output, Span<double> row, int column, double value, string key)
    {
        if (column < 0)
        {
            throw new InferenceProtocolException($"output '{output.Name}' has a class '{key}' its model file does not name");
        }

        row[column] = value;
    }

    private static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int i = 0; i < labels.Count; i++)
        {
            if (string.Equals(labels[i], label, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private static string[] ReadKeys(OrtValue keys) => keys.GetTensorTypeAndShape().ElementDataType == TensorElementType.Int64
        ? Array.ConvertAll(keys.GetTensorDataAsSpan<long>().ToArray(), k => k.ToString(System.Globalization.CultureInfo.InvariantCulture))
        : keys.GetStringTensorAsArray();

    private static double[] ReadValues(OrtValue values) => values.GetTensorTypeAndShape().ElementDataType == TensorElementType.Double
        ? values.GetTensorDataAsSpan<double>().ToArray()
        : Array.ConvertAll(values.GetTensorDataAsSpan<float>().ToArray(), v => (double)v);

    private static InferenceTensor FromTensors(ModelOutput output, OrtValue sequence)
    {
        var allocator = OrtAllocator.DefaultInstance;
        int count = sequence.GetValueCount();
        var parts = new InferenceTensor[count];
        for (int i = 0; i < count; i++)
        {
            using var element = sequence.GetValue(i, allocator);
            parts[i] = TensorBinding.ToTensor(output.Name, element);
            if (i > 0 && !parts[i].Shape.AsSpan().SequenceEqual(parts[0].Shape))
            {
                throw new InferenceProtocolException(
                    $"output '{output.Name}' is a sequence of tensors of different shapes ([{string.Join(',', parts[0].Shape)}] and [{string.Join(',', parts[i].Shape)}]), which one V2 tensor cannot carry");
            }
        }

        long[] elementShape = count > 0 ? parts[0].Shape : output.Shape.Length > 1 ? Array.ConvertAll(output.Shape[1..], d => Math.Max(d, 0)) : [];
        long[] shape = [count, .. elementShape];
        int per = checked((int)InferenceTensor.ElementCount(elementShape));
        var data = Array.CreateInstance(output.Datatype.ElementType(), checked(count * per));
        for (int i = 0; i < count; i++)
        {
            Array.Copy(parts[i].Data, 0, data, i * per, per);
        }

        return new InferenceTensor(output.Name, output.Datatype, shape, data);
    }
}
