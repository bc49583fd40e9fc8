namespace Mds.Contracts.Inference;

/// <summary>
/// A named tensor of the Open Inference Protocol, with its elements decoded into one typed array
/// (row-major): <c>bool[]</c>, <c>byte[]</c>, <c>ushort[]</c>, <c>uint[]</c>, <c>ulong[]</c>, <c>sbyte[]</c>,
/// <c>short[]</c>, <c>int[]</c>, <c>long[]</c>, <c>Half[]</c>, <see cref="BFloat16"/><c>[]</c>, <c>float[]</c>, <c>double[]</c> or <c>string[]</c>
/// as <see cref="TensorDatatypes.ElementType"/> says. The array's length equals the product of <see cref="Shape"/>.
/// </summary>
public sealed class InferenceTensor
{
    /// <summary>Creates a tensor; checks that the array's element type and length agree with datatype and shape.</summary>
    public InferenceTensor(string name, TensorDatatype datatype, long[] shape, Array data, IReadOnlyDictionary<string, object?>? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (data.GetType().GetElementType() != datatype.ElementType())
        {
            throw new ArgumentException($"Tensor '{name}': {datatype.ToWireName()} needs {datatype.ElementType().Name}[] but got {data.GetType().Name}.", nameof(data));
        }

        long count = ElementCount(shape);
        if (count != data.Length)
        {
            throw new ArgumentException($"Tensor '{name}': shape [{string.Join(',', shape)}] holds {count} elements but data has {data.Length}.", nameof(data));
        }

        Name = name;
        Datatype = datatype;
        Shape = shape;
        Data = data;
        Parameters = parameters;
    }

    /// <summary>Tensor name as in the model's metadata.</summary>
    public string Name { get; }

    /// <summary>Element datatype.</summary>
    public TensorDatatype Datatype { get; }

    /// <summary>Shape; every dimension is non-negative.</summary>
    public long[] Shape { get; }

    /// <summary>
    /// Whether <paramref name="other"/> has this tensor's shape beyond the first (row) dimension, so that the two can be
    /// stacked along it into one batch (the worker's adaptive batcher and the stream consumer combine requests by it).
    /// </summary>
    /// <param name="other">The other tensor.</param>
    public bool SameRowShape(InferenceTensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Shape.Length == other.Shape.Length && Shape.AsSpan(Math.Min(1, Shape.Length)).SequenceEqual(other.Shape.AsSpan(Math.Min(1, other.Shape.Length)));
    }

    /// <summary>The elements, row-major, in the typed array for <see cref="Datatype"/>.</summary>
    public Array Data { get; }

    /// <summary>Tensor-level parameters (<c>parameters</c> on the wire), if any.</summary>
    public IReadOnlyDictionary<string, object?>? Parameters { get; }

    /// <summary>Product of the dimensions (1 for a scalar of shape []).</summary>
    public static long ElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            count = checked(count * d);
        }

        return count;
    }
}
